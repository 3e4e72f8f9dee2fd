/*
 * test_powercap.c - the powercap (RAPL) energy reader against a fake sysfs tree built in a temporary directory:
 *  - powercap_delta: plain differences, a wrap at max_energy_range_uj, and the refused cases (counter
 *    went back with no range, or a reading above the range);
 *  - zone choice: package zones of two sockets are summed; the sub-zone intel-rapl:0:0, the platform zone psys
 *    and intel-rapl-mmio's copy of package-0 are not counted; an mmio-only tree is used;
 *  - sampling: energy since the previous reading, summed over the packages, one of them wrapping; exact values;
 *  - fallbacks: no tree, no package zone, an unreadable counter (a directory in its place: the tests may run as
 *    root, which reads any file whatever its mode), a malformed value, a counter removed after open, and a wrap
 *    with no range all fail with a reason instead of giving a number;
 *  - the watcher thread: a counter wrapping four times between two takes is counted in full (4000 uJ), and a
 *    sample failing in the watcher makes the next take fail even when the counter is readable again.
 */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../app/cli/powercap.c" /* the reader under test (app code: not in liboctet.a) */
#include "test.h"

static char root[256];

static void put(const char *rel, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%s/class/powercap/%s", root, rel);
    char d[1024];
    snprintf(d, sizeof d, "%s", p);
    for (char *s = d + strlen(root) + 1; *s; s++)
        if (*s == '/') *s = 0, mkdir(d, 0755), *s = '/';
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", tmp);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    if (rename(tmp, p)) { /* atomic, as sysfs reads are: the watcher thread never sees a half-written value */
        fprintf(stderr, "cannot rename %s\n", tmp);
        exit(1);
    }
}

static void put_u64(const char *rel, uint64_t v) {
    char t[32];
    snprintf(t, sizeof t, "%llu\n", (unsigned long long)v);
    put(rel, t);
}

static void rm_tree(const char *path) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", path);
}

/* a fresh tree: control type dir, two packages, a core sub-zone, psys, and mmio's copy of package-0 */
#define RANGE0 262143328850ull /* as an Intel package reports: 0xffffffff x 61.035 uJ */
#define RANGE1 65712999613ull  /* as an AMD package reports: 0xffffffff x 15.3 uJ */
static void make_tree(void) {
    rm_tree(root);
    mkdir(root, 0755);
    put("intel-rapl/enabled", "1\n");
    put("intel-rapl:0/name", "package-0\n");
    put_u64("intel-rapl:0/energy_uj", 1000);
    put_u64("intel-rapl:0/max_energy_range_uj", RANGE0);
    put("intel-rapl:0:0/name", "core\n");
    put_u64("intel-rapl:0:0/energy_uj", 500);
    put_u64("intel-rapl:0:0/max_energy_range_uj", RANGE0);
    put("intel-rapl:1/name", "package-1\n");
    put_u64("intel-rapl:1/energy_uj", RANGE1 - 100);
    put_u64("intel-rapl:1/max_energy_range_uj", RANGE1);
    put("intel-rapl:1:0/name", "package-9\n"); /* a sub-zone is never counted, whatever its name */
    put_u64("intel-rapl:1:0/energy_uj", 100);
    put_u64("intel-rapl:1:0/max_energy_range_uj", RANGE1);
    put("intel-rapl:2/name", "psys\n");
    put_u64("intel-rapl:2/energy_uj", 7);
    put_u64("intel-rapl:2/max_energy_range_uj", RANGE0);
    put("intel-rapl-mmio:0/name", "package-0\n");
    put_u64("intel-rapl-mmio:0/energy_uj", 1000);
    put_u64("intel-rapl-mmio:0/max_energy_range_uj", RANGE0);
}

static void test_delta(void) {
    uint64_t d = 12345;
    CHECK(powercap_delta(10, 25, 100, &d) == 0 && d == 15);
    CHECK(powercap_delta(10, 10, 100, &d) == 0 && d == 0);
    CHECK(powercap_delta(90, 5, 100, &d) == 0 && d == 15);       /* 90 -> 100, wrap, 0 -> 5 */
    CHECK(powercap_delta(100, 0, 100, &d) == 0 && d == 0);       /* at the top, then 0 */
    CHECK(powercap_delta(RANGE0 - 1, 1, RANGE0, &d) == 0 && d == 2);
    CHECK(powercap_delta(0, UINT64_MAX, 0, &d) == 0 && d == UINT64_MAX);
    d = 777;
    CHECK(powercap_delta(90, 5, 0, &d) == -1 && d == 777);       /* wrap, range unknown */
    CHECK(powercap_delta(150, 5, 100, &d) == -1 && d == 777);    /* reading above the range */
}

static void test_zones_and_sampling(void) {
    make_tree();
    powercap pc;
    int n = powercap_open(&pc, root);
    CHECKF(n == 2, "zones %d (%s)", n, pc.why);
    if (n != 2) return;
    CHECK(strcmp(pc.zone[0].dir, "intel-rapl:0") == 0 && strcmp(pc.zone[0].name, "package-0") == 0);
    CHECK(strcmp(pc.zone[1].dir, "intel-rapl:1") == 0 && strcmp(pc.zone[1].name, "package-1") == 0);
    CHECK(pc.zone[0].range_uj == RANGE0 && pc.zone[1].range_uj == RANGE1);
    CHECK(pc.zone[0].last_uj == 1000 && pc.zone[1].last_uj == RANGE1 - 100);

    /* package-0 +4000, package-1 wraps (+100 to the top, +50 after), the others move but are not counted */
    put_u64("intel-rapl:0/energy_uj", 5000);
    put_u64("intel-rapl:1/energy_uj", 50);
    put_u64("intel-rapl:0:0/energy_uj", 1000000);
    put_u64("intel-rapl:1:0/energy_uj", 2000000);
    put_u64("intel-rapl:2/energy_uj", 9000000);
    put_u64("intel-rapl-mmio:0/energy_uj", 3000000);
    uint64_t uj = 0;
    CHECK(powercap_sample(&pc, &uj) == 0);
    CHECKF(uj == 4150, "%llu uJ, expected 4150", (unsigned long long)uj);
    CHECK(powercap_sample(&pc, &uj) == 0 && uj == 0); /* nothing moved since */
    put_u64("intel-rapl:0/energy_uj", RANGE0);               /* up to the very top */
    put_u64("intel-rapl:1/energy_uj", 60);
    CHECK(powercap_sample(&pc, &uj) == 0 && uj == (RANGE0 - 5000) + 10);
    put_u64("intel-rapl:0/energy_uj", 3); /* wraps from the top */
    CHECK(powercap_sample(&pc, &uj) == 0 && uj == 3);

    /* a counter that disappears after open: sample fails with its path */
    char p[1024];
    snprintf(p, sizeof p, "%s/class/powercap/intel-rapl:1/energy_uj", root);
    unlink(p);
    CHECK(powercap_sample(&pc, &uj) == -1 && strstr(pc.why, "intel-rapl:1/energy_uj"));

    /* a counter that goes back with no readable range: refused, not a huge number */
    make_tree();
    snprintf(p, sizeof p, "%s/class/powercap/intel-rapl:0/max_energy_range_uj", root);
    unlink(p);
    CHECK(powercap_open(&pc, root) == 2 && pc.zone[0].range_uj == 0);
    put_u64("intel-rapl:0/energy_uj", 10);
    CHECK(powercap_sample(&pc, &uj) == -1 && strstr(pc.why, "went back"));
}

static void test_other_trees(void) {
    powercap pc;
    /* intel-rapl-mmio alone (no MSR zones): its package is used */
    rm_tree(root);
    mkdir(root, 0755);
    put("intel-rapl-mmio:0/name", "package-0\n");
    put_u64("intel-rapl-mmio:0/energy_uj", 42);
    put_u64("intel-rapl-mmio:0/max_energy_range_uj", RANGE0);
    CHECK(powercap_open(&pc, root) == 1 && strcmp(pc.zone[0].dir, "intel-rapl-mmio:0") == 0);

    /* no package zone at all (only a sub-zone and psys) */
    rm_tree(root);
    mkdir(root, 0755);
    put("intel-rapl:0:0/name", "core\n");
    put_u64("intel-rapl:0:0/energy_uj", 42);
    put("intel-rapl:1/name", "psys\n");
    put_u64("intel-rapl:1/energy_uj", 42);
    CHECK(powercap_open(&pc, root) == 0 && strstr(pc.why, "no RAPL package zone"));

    /* a non-RAPL control type with a "package" zone is not taken */
    rm_tree(root);
    mkdir(root, 0755);
    put("dtpm:0/name", "package-0\n");
    put_u64("dtpm:0/energy_uj", 42);
    CHECK(powercap_open(&pc, root) == 0);

    /* no powercap directory at all (this build machine, a container, has none) */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nothing-here", root);
    CHECK(powercap_open(&pc, missing) == 0 && strstr(pc.why, "nothing-here/class/powercap"));

    /* an unreadable counter: a directory where energy_uj should be */
    make_tree();
    char p[1024];
    snprintf(p, sizeof p, "%s/class/powercap/intel-rapl:1/energy_uj", root);
    unlink(p);
    mkdir(p, 0755);
    CHECK(powercap_open(&pc, root) == 0 && pc.n_zones == 0 && strstr(pc.why, "intel-rapl:1/energy_uj"));

    /* malformed values */
    make_tree();
    put("intel-rapl:0/energy_uj", "12x4\n");
    CHECK(powercap_open(&pc, root) == 0 && strstr(pc.why, "not a counter value"));
    put("intel-rapl:0/energy_uj", "");
    CHECK(powercap_open(&pc, root) == 0);
    put("intel-rapl:0/energy_uj", "99999999999999999999999\n"); /* beyond 64 bits */
    CHECK(powercap_open(&pc, root) == 0);
    put("intel-rapl:0/energy_uj", "77"); /* no newline: accepted */
    CHECK(powercap_open(&pc, root) == 2 && pc.zone[0].last_uj == 77);
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

/* The watcher: a counter wrapping four times between two takes is still counted in full. */
static void test_watch(void) {
    rm_tree(root);
    mkdir(root, 0755);
    put("intel-rapl:0/name", "package-0\n");
    put_u64("intel-rapl:0/energy_uj", 100);
    put_u64("intel-rapl:0/max_energy_range_uj", 1000);
    powercap pc;
    CHECK(powercap_open(&pc, root) == 1);
    uint64_t uj = 1;
    /* without a watcher, 100 -> 600 -> 100 (two wraps' worth, +1000) is invisible to take */
    put_u64("intel-rapl:0/energy_uj", 600);
    put_u64("intel-rapl:0/energy_uj", 100);
    CHECK(powercap_take(&pc, &uj) == 0 && uj == 0);
    CHECK(powercap_watch(&pc, 2) == 0);
    for (int k = 0; k < 8; k++) { /* +500 per step, each value held 20x the period: 4000 uJ, four wraps */
        put_u64("intel-rapl:0/energy_uj", k % 2 == 0 ? 600 : 100);
        sleep_ms(40);
    }
    CHECK(powercap_take(&pc, &uj) == 0);
    CHECKF(uj == 4000, "%llu uJ, expected 4000", (unsigned long long)uj);
    CHECK(powercap_take(&pc, &uj) == 0 && uj == 0);
    /* a sample failing in the watcher makes the next take fail */
    char p[1024];
    snprintf(p, sizeof p, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    unlink(p);
    mkdir(p, 0755);
    sleep_ms(40);
    rmdir(p); /* readable again at the take, but the stretch the watcher missed is unknown */
    put_u64("intel-rapl:0/energy_uj", 300);
    CHECK(powercap_take(&pc, &uj) == -1 && strstr(pc.why, "intel-rapl:0/energy_uj"));
    powercap_close(&pc);
    CHECK(!pc.watching);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/octet-powercap-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_delta();
    test_zones_and_sampling();
    test_other_trees();
    test_watch();
    rm_tree(root);
    TEST_MAIN_END();
}

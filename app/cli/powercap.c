/*
 * powercap.c - package energy from Linux powercap counters (see powercap.h for the sysfs layout and the rules).
 */
#include "powercap.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One unsigned decimal number, optionally followed by a newline, as sysfs prints it. 0 or -1 (errno_out set). */
static int read_u64(const char *path, uint64_t *v, int *errno_out) {
    *errno_out = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        *errno_out = errno;
        return -1;
    }
    char buf[64];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (rerr) {
        *errno_out = rerr;
        return -1;
    }
    buf[n] = 0;
    if (n == 0 || buf[0] < '0' || buf[0] > '9') return -1;
    uint64_t x = 0;
    size_t i = 0;
    for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
        unsigned d = (unsigned)(buf[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    if (i < n && !(buf[i] == '\n' && i + 1 == n)) return -1;
    *v = x;
    return 0;
}

/* The first line of a small text file, without its newline. */
static int read_line(const char *path, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *r = fgets(out, (int)cap, f);
    fclose(f);
    if (!r) return -1;
    out[strcspn(out, "\n")] = 0;
    return 0;
}

static void set_why_read(powercap *pc, const char *path, int e) {
    if (e) snprintf(pc->why, sizeof pc->why, "%s: %s", path, strerror(e));
    else snprintf(pc->why, sizeof pc->why, "%s: not a counter value", path);
}

int powercap_delta(uint64_t before, uint64_t after, uint64_t range_uj, uint64_t *delta) {
    if (after >= before) {
        *delta = after - before;
        return 0;
    }
    /* wrapped: from before up to the top of the range, then from 0 to after */
    if (range_uj == 0 || before > range_uj) return -1;
    *delta = (range_uj - before) + after;
    return 0;
}

/* A top-level zone directory name "<type>:<digits>": its type length, or 0 for anything else (sub-zones
 * "<type>:<n>:<m>", the control-type directory "<type>", ".", ".."). */
static size_t top_zone_type_len(const char *d) {
    const char *c = strchr(d, ':');
    if (!c || c == d || !c[1]) return 0;
    for (const char *p = c + 1; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return (size_t)(c - d);
}

typedef struct cand {
    char dir[64], name[64];
    int pref; /* 0: the type is exactly "intel-rapl"; 1: another rapl type */
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->pref != y->pref) return x->pref - y->pref;
    size_t lx = strlen(x->dir), ly = strlen(y->dir);
    if (lx != ly) return lx < ly ? -1 : 1; /* intel-rapl:2 before intel-rapl:10 */
    return strcmp(x->dir, y->dir);
}

int powercap_open(powercap *pc, const char *sysfs_root) {
    memset(pc, 0, sizeof *pc);
    if (!sysfs_root || !sysfs_root[0]) sysfs_root = "/sys";
    char base[512];
    if ((size_t)snprintf(base, sizeof base, "%s/class/powercap", sysfs_root) >= sizeof base) {
        snprintf(pc->why, sizeof pc->why, "sysfs root path too long");
        return 0;
    }
    DIR *dir = opendir(base);
    if (!dir) {
        snprintf(pc->why, sizeof pc->why, "%s: %s", base, strerror(errno));
        return 0;
    }
    cand c[2 * POWERCAP_MAX_ZONES];
    int nc = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        size_t tl = top_zone_type_len(de->d_name);
        if (!tl || strlen(de->d_name) >= sizeof c[0].dir) continue;
        char type[64];
        if (tl >= sizeof type) continue;
        memcpy(type, de->d_name, tl), type[tl] = 0;
        if (!strstr(type, "rapl")) continue;
        char path[1024], name[64];
        snprintf(path, sizeof path, "%s/%s/name", base, de->d_name);
        if (read_line(path, name, sizeof name) || strncmp(name, "package", 7) != 0) continue;
        if (nc == (int)(sizeof c / sizeof c[0])) break;
        memcpy(c[nc].dir, de->d_name, strlen(de->d_name) + 1); /* shorter than dir: checked above */
        snprintf(c[nc].name, sizeof c[nc].name, "%s", name);
        c[nc].pref = strcmp(type, "intel-rapl") != 0;
        nc++;
    }
    closedir(dir);
    qsort(c, (size_t)nc, sizeof c[0], cand_cmp);
    for (int i = 0; i < nc; i++) {
        int dup = 0;
        for (int j = 0; j < pc->n_zones; j++) dup |= strcmp(pc->zone[j].name, c[i].name) == 0;
        if (dup || pc->n_zones == POWERCAP_MAX_ZONES) continue;
        powercap_zone *z = &pc->zone[pc->n_zones];
        snprintf(z->dir, sizeof z->dir, "%s", c[i].dir);
        snprintf(z->name, sizeof z->name, "%s", c[i].name);
        snprintf(z->energy, sizeof z->energy, "%s/%s/energy_uj", base, c[i].dir);
        char rpath[1024];
        int e;
        snprintf(rpath, sizeof rpath, "%s/%s/max_energy_range_uj", base, c[i].dir);
        if (read_u64(rpath, &z->range_uj, &e)) z->range_uj = 0;
        if (read_u64(z->energy, &z->last_uj, &e)) {
            set_why_read(pc, z->energy, e);
            pc->n_zones = 0;
            return 0;
        }
        pc->n_zones++;
    }
    if (pc->n_zones == 0) snprintf(pc->why, sizeof pc->why, "%s: no RAPL package zone", base);
    return pc->n_zones;
}

int powercap_sample(powercap *pc, uint64_t *uj) {
    uint64_t now[POWERCAP_MAX_ZONES], sum = 0;
    for (int i = 0; i < pc->n_zones; i++) {
        powercap_zone *z = &pc->zone[i];
        int e;
        uint64_t d;
        if (read_u64(z->energy, &now[i], &e)) {
            set_why_read(pc, z->energy, e);
            return -1;
        }
        if (powercap_delta(z->last_uj, now[i], z->range_uj, &d)) {
            snprintf(pc->why, sizeof pc->why, "%s went back from %llu to %llu with no known range", z->energy,
                     (unsigned long long)z->last_uj, (unsigned long long)now[i]);
            return -1;
        }
        sum += d;
    }
    for (int i = 0; i < pc->n_zones; i++) pc->zone[i].last_uj = now[i];
    *uj = sum;
    return 0;
}

/* ---- the watcher ------------------------------------------------------------------------------------------- */
static void *watch_main(void *arg) {
    powercap *pc = arg;
    pthread_mutex_lock(&pc->mu);
    while (!pc->stop) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t); /* pthread_cond_timedwait's default clock */
        long ns = t.tv_nsec + (long)pc->period_ms % 1000 * 1000000L;
        t.tv_sec += pc->period_ms / 1000 + ns / 1000000000L;
        t.tv_nsec = ns % 1000000000L;
        int rc = 0;
        while (!pc->stop && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&pc->cv, &pc->mu, &t);
        if (pc->stop) break;
        uint64_t d;
        if (pc->failed || powercap_sample(pc, &d)) pc->failed = 1;
        else pc->acc_uj += d;
    }
    pthread_mutex_unlock(&pc->mu);
    return NULL;
}

int powercap_watch(powercap *pc, int period_ms) {
    if (pc->watching || period_ms <= 0) return -1;
    pc->stop = 0;
    pc->period_ms = period_ms;
    if (pthread_mutex_init(&pc->mu, NULL)) return -1;
    if (pthread_cond_init(&pc->cv, NULL)) {
        pthread_mutex_destroy(&pc->mu);
        return -1;
    }
    if (pthread_create(&pc->thread, NULL, watch_main, pc)) {
        pthread_cond_destroy(&pc->cv);
        pthread_mutex_destroy(&pc->mu);
        return -1;
    }
    pc->watching = 1;
    return 0;
}

int powercap_take(powercap *pc, uint64_t *uj) {
    if (pc->watching) pthread_mutex_lock(&pc->mu);
    uint64_t d = 0;
    int rc = pc->failed || powercap_sample(pc, &d) ? -1 : 0;
    if (rc == 0) *uj = pc->acc_uj + d;
    pc->failed = rc != 0;
    pc->acc_uj = 0;
    if (pc->watching) pthread_mutex_unlock(&pc->mu);
    return rc;
}

void powercap_close(powercap *pc) {
    if (!pc->watching) return;
    pthread_mutex_lock(&pc->mu);
    pc->stop = 1;
    pthread_cond_signal(&pc->cv);
    pthread_mutex_unlock(&pc->mu);
    pthread_join(pc->thread, NULL);
    pthread_cond_destroy(&pc->cv);
    pthread_mutex_destroy(&pc->mu);
    pc->watching = 0;
}

/*
 * powercap.h - package energy read from Linux's powercap sysfs (RAPL counters), for `octet bench`.
 *
 * Linux exposes RAPL ("running average power limit") energy counters of Intel CPUs, and of AMD CPUs from family
 * 17h on (the same intel_rapl driver: AMD families 17h and 19h since Linux 5.11, family 1Ah since 2024), as
 * powercap zones: <sysfs>/class/powercap/intel-rapl:N is package N (its file `name` says "package-N"), and
 * intel-rapl:N:M are its sub-zones (core, uncore, dram), whose energy is part of or beside the package's and is
 * not added again.
 * Each zone has `energy_uj`, a counter in microjoules that runs from 0 to `max_energy_range_uj` and then starts
 * again at 0 (Documentation/power/powercap/powercap.rst in the kernel tree). Since Linux 5.10 (CVE-2020-8694)
 * energy_uj is readable by root only; an unreadable counter makes powercap_open fail with the reason, and
 * the caller falls back to an estimate.
 *
 * The zones summed are the top-level ones (exactly one ":N" after the control type) of every control type
 * containing "rapl" whose name starts with "package"; when two control types expose a package of the same name
 * (intel-rapl and intel-rapl-mmio on some Intel laptops) it is counted once, from "intel-rapl" if present. A
 * "psys" zone (the whole platform, package included) is not counted. Nothing here prints or exits. The file
 * needs only the C library and POSIX directory reading: tests/unit/test_powercap.c compiles powercap.c into
 * itself (the Makefile lists it as that test's prerequisite).
 */
#ifndef OCTET_CLI_POWERCAP_H
#define OCTET_CLI_POWERCAP_H

#include <pthread.h>
#include <stdint.h>

#define POWERCAP_MAX_ZONES 16

typedef struct powercap_zone {
    char dir[64];        /* the zone's directory name, e.g. "intel-rapl:0" */
    char name[64];       /* the contents of its `name` file, e.g. "package-0" */
    char energy[1024];   /* path of its energy_uj */
    uint64_t range_uj;   /* max_energy_range_uj; 0 when unreadable (a wrap is then an error) */
    uint64_t last_uj;    /* the previous reading */
} powercap_zone;

typedef struct powercap {
    int n_zones;
    powercap_zone zone[POWERCAP_MAX_ZONES];
    char why[1200]; /* when open or sample fails: the reason, for a message */
    /* the watcher (powercap_watch): a thread sampling every period_ms into acc_uj, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int watching, stop, failed, period_ms;
    uint64_t acc_uj; /* energy sampled since the last powercap_take */
} powercap;

/* Find the package zones under sysfs_root (the directory standing for /sys; NULL or "" means "/sys") and read
 * each counter once as the baseline. Returns the number of zones (> 0), or 0 with pc->why set when there is no
 * powercap tree, no package zone, or a counter cannot be read. */
int powercap_open(powercap *pc, const char *sysfs_root);

/* Read every zone and store in *uj the energy in microjoules since the previous reading (open or sample),
 * summed over the zones; the readings become the new baseline. Returns 0, or -1 with pc->why set when a counter
 * cannot be read or went backwards without a known range. */
int powercap_sample(powercap *pc, uint64_t *uj);

/* Start a thread that samples every period_ms milliseconds, so that however long the caller waits between two
 * powercap_take calls, no counter is read more than period_ms apart and none can wrap twice unseen (the range
 * is tens of kJ: minutes even at several hundred watts). Returns 0, or -1 when the thread cannot start. */
int powercap_watch(powercap *pc, int period_ms);
/* Sample now and store in *uj the energy since the previous powercap_take (or open), the watcher's samples
 * included. Returns 0, or -1 with pc->why set when this or any sample since the last take failed. Works with or
 * without a watcher. */
int powercap_take(powercap *pc, uint64_t *uj);
/* Stop the watcher, if any. */
void powercap_close(powercap *pc);

/* Energy between two readings of one counter with range range_uj: after - before, or, when the counter wrapped
 * (after < before), range_uj - before + after. Returns -1 when after < before and the range is unknown (0) or
 * before exceeds it. */
int powercap_delta(uint64_t before, uint64_t after, uint64_t range_uj, uint64_t *delta);

#endif

/*
 * dist.h - distributed runs of octet commands (cmd_dist.c): under mpiexec, in a build with MPI (make MPI=1),
 * `run`, `logits` and `perplexity` evaluate the model as a pipeline of stages, one per rank (docs/distributed.md).
 *
 * A command keeps a cli_dist, zeroed, and:
 *   cli_dist_start   after parsing its options: joins the MPI job when there is one (every rank parses the same
 *                    command line, so all agree on the options)
 *   cli_dist_pipeline instead of octet_session_new: on rank 0 it returns 0 with cd->pl ready; on the other ranks
 *                    it runs that rank's stage until rank 0 finishes and returns 1 (the command then just cleans up)
 *   cli_decode / cli_logits / cli_n_past / cli_n_ctx  instead of the octet_session_* calls (with no pipeline they
 *                    are exactly those calls)
 *   cli_dist_end     on every way out: after success it finishes the pipeline, prints this rank's stage report
 *                    and leaves the job cleanly; after a failure it aborts the whole job (MPI_Abort), so no rank
 *                    is left waiting for one that gave up.
 * Outside an MPI job cd->d stays NULL and all of this is a no-op.
 */
#ifndef OCTET_CLI_DIST_H
#define OCTET_CLI_DIST_H

#include "octet.h"

typedef struct cli_dist {
    octet_dist *d;
    octet_pipeline *pl;
    int rank, size;
    const char *model_path;
} cli_dist;

/* Returns 0, or EXIT_ERR after printing why the job could not be joined. */
int cli_dist_start(cli_dist *cd);
/* Ranks > 0 of a job: is this a rank that only serves a stage (does no I/O)? */
int cli_dist_quiet(const cli_dist *cd);
/* Returns 0 (rank 0: cd->pl ready; or no job: nothing done), 1 (rank > 0: served until the end) or -1 (an error,
 * printed). n_seq: sequences in flight. */
int cli_dist_pipeline(cli_dist *cd, const octet_model *m, const char *path, const char *split,
                      const octet_session_params *sp, int n_seq);
int cli_decode(cli_dist *cd, octet_session *s, const int32_t *tokens, int n, int64_t pos, octet_error *err);
const float *cli_logits(const cli_dist *cd, const octet_session *s, int i);
int cli_n_past(const cli_dist *cd, const octet_session *s);
int cli_n_ctx(const cli_dist *cd, const octet_session *s);
/* Rank 0 of a pipeline, for `bench --parallel`: every one of the pipeline's n_seq sequences decodes toks[0 ..
 * n_prompt) from an empty cache in batches of at most n_batch, then toks[n_prompt .. n_prompt + n_gen) one at a
 * time; each sequence's next submission goes in as soon as its previous one came back, so micro-batches of
 * different sequences occupy different stages at once. Returns the wall seconds, or -1 (the reason printed). */
double cli_pipeline_bench(octet_pipeline *pl, const int32_t *toks, int n_prompt, int n_gen, int n_batch);
/* Returns the exit status (status, or EXIT_ERR if finishing failed); aborts the job when status is not 0. */
int cli_dist_end(cli_dist *cd, int status);

#endif

/*
 * serve.c - `octet serve`: options, model loading, the slot scheduler and the HTTP server, and a clean exit on
 * SIGTERM/SIGINT (stop accepting, let requests in flight finish for up to SRV_DRAIN_SECONDS, exit 0).
 *
 * Signals are blocked in every thread (they inherit the mask from here) and taken by sigtimedwait in the main
 * thread, so no handler runs inside library code.
 *
 * Under mpiexec (build/mpi/octet, docs/distributed.md) the model runs as a pipeline of stages, one per rank:
 * rank 0 runs the HTTP server, the scheduler and stage 0, each slot being one pipeline sequence; the other ranks
 * only serve their stage until rank 0 finishes (they ignore SIGTERM/SIGINT: rank 0 drains and then ends them).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cli/cli.h"
#include "../cli/dist.h"
#include "server.h"

/* tokenizer.chat_template (cut to size - 1 bytes: enough to find the family's markers), or "" when absent. */
static void read_template(const char *path, char *buf, size_t size) {
    buf[0] = 0;
    octet_gguf *g = NULL;
    octet_error err;
    if (octet_gguf_open(&g, path, &err)) return;
    if (octet_gguf_get_str(g, "tokenizer.chat_template", buf, size) < 0) buf[0] = 0;
    octet_gguf_close(g);
}

/* Is s a single (control) token of the model's vocabulary? */
static int has_token(void *ud, const char *s) {
    const octet_model *m = ud;
    int32_t t[4];
    int n = 0;
    octet_error err;
    if (octet_tokenize(m, s, strlen(s), 0, 1, t, 4, &n, &err) || n != 1) return 0;
    char piece[64];
    int k = octet_token_to_piece(m, t[0], 1, piece, sizeof piece - 1);
    return k == (int)strlen(s) && memcmp(piece, s, (size_t)k) == 0;
}

static void model_id_of(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, n, "%s", b);
    size_t l = strlen(out);
    if (l > 5 && strcmp(out + l - 5, ".gguf") == 0) out[l - 5] = 0;
}

int cmd_serve(int argc, char **argv) {
    const char *model = NULL, *host = "127.0.0.1", *api_key = NULL, *exec_mode = NULL, *split = NULL;
    int port = 8080, n_slots = 1, n_ctx = 0, n_threads = 0, no_mmap = 0, quiet = 0, log_prompts = 0;
    const char *cors = NULL;
    int max_conn_addr = SRV_MAX_CONN_PER_ADDR, read_timeout = SRV_READ_TIMEOUT;
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "GGUF model (default: the bundled model)", 0, 0, NULL},
        {"--host", NULL, OPT_STR, &host, "ADDR", "address to bind (default 127.0.0.1; 0.0.0.0: every interface)", 0, 0,
         NULL},
        {"--port", NULL, OPT_INT, &port, "N", "TCP port (default 8080; 0: any free port, printed)", 0, 65535, NULL},
        {"--parallel", "-np", OPT_INT, &n_slots, "SLOTS", "sequences decoded together (default 1)", 1, SRV_MAX_SLOTS,
         NULL},
        {"--api-key", NULL, OPT_STR, &api_key, "KEY", "require 'Authorization: Bearer KEY' (default: no auth)", 0, 0,
         NULL},
        {"--ctx-size", "-c", OPT_INT, &n_ctx, "N", "context per slot (default: min(model context, 4096))", 0, 1 << 20,
         NULL},
        {"--exec", NULL, OPT_STR, &exec_mode, "MODE", "float (default) or int: integer-only arithmetic", 0, 0, NULL},
        {"--threads", "-t", OPT_INT, &n_threads, "N", "threads per forward pass (default: all CPUs)", 1, 256, NULL},
        {"--no-mmap", NULL, OPT_FLAG, &no_mmap, NULL, "read the model into memory instead of mapping it", 0, 0, NULL},
        {"--quiet", "-q", OPT_FLAG, &quiet, NULL, "no start-up lines on stderr", 0, 0, NULL},
        {"--log-prompts", NULL, OPT_FLAG, &log_prompts, NULL, "print every chat prompt as the template renders it (debugging)", 0,
         0, NULL},
        {"--split", NULL, OPT_STR, &split, "N,N..", "under mpiexec: layers per rank (default: balanced by bytes)", 0,
         0, NULL},
        {"--cors", NULL, OPT_STR, &cors, "ORIGIN",
         "allow browsers on ORIGIN (e.g. https://app.example, or *) to call the API: CORS headers and preflights "
         "(default: off)", 0, 0, NULL},
        {"--max-conn-per-addr", NULL, OPT_INT, &max_conn_addr, "N",
         "connections one client address may hold; more get 503 + Retry-After (default 64; 0: no cap)", 0,
         SRV_MAX_CONNECTIONS, NULL},
        {"--read-timeout", NULL, OPT_INT, &read_timeout, "S",
         "seconds a client has to send a request's headers and body, in total (default 30)", 1, 3600, NULL},
    };
    const cmd_spec spec = {"serve", "[-m MODEL] [--host ADDR] [--port N] [-np SLOTS] [--api-key KEY] [options]",
                           "Serve the model over HTTP with an OpenAI-compatible API (/v1/completions, "
                           "/v1/chat/completions, /v1/embeddings, /v1/models, /health, /tokenize, /detokenize) and a chat page "
                           "at /. "
                           "SIGTERM or SIGINT finishes the requests in flight and exits 0. Under mpiexec (build/mpi/octet, "
                           "docs/distributed.md) the model runs as a pipeline of stages, one per rank; rank 0 serves "
                           "HTTP and each slot is one pipeline sequence.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    int exec = cli_exec_mode(exec_mode);
    if (exec < 0) return EXIT_USAGE;
    if (api_key && !*api_key) {
        fprintf(stderr, "octet serve: --api-key must not be empty\n");
        return EXIT_USAGE;
    }
    if (!model) model = cli_default_model();
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any thread starts (MPI's communication thread too) */
    signal(SIGPIPE, SIG_IGN);
    cli_dist cd; /* under mpiexec (dist.h): one pipeline, one sequence per slot */
    if (cli_dist_start(&cd)) return EXIT_ERR;
    if (cd.d && exec != OCTET_EXEC_FLOAT) {
        fprintf(stderr, "octet serve: under mpiexec only --exec float is available (no integer pipeline stages)\n");
        return cli_dist_end(&cd, EXIT_USAGE);
    }
    if (cli_dist_quiet(&cd)) { /* a later stage: no HTTP, no signals of its own; serve until rank 0 finishes */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        octet_model *qm = cli_open_model(model, !no_mmap, 0, 1);
        int st = EXIT_ERR;
        if (qm) {
            octet_session_params qp = octet_session_default_params();
            qp.n_ctx = n_ctx;
            qp.n_threads = n_threads;
            qp.exec = exec;
            srv_sched_session_params(&qp, n_slots);
            st = cli_dist_pipeline(&cd, qm, model, split, &qp, n_slots) > 0 ? EXIT_OK : EXIT_ERR;
        }
        st = cli_dist_end(&cd, st);
        octet_model_close(qm);
        return st;
    }


    srv_config cfg = {host, port, api_key, n_slots, cors, max_conn_addr, (double)read_timeout};
    srv_server *h = NULL;
    char msg[512];
    if (srv_http_start(&h, &cfg, msg, sizeof msg)) {
        fprintf(stderr, "octet serve: %s\n", msg);
        return cli_dist_end(&cd, EXIT_ERR);
    }
    if (!quiet) fprintf(stderr, "octet serve: listening on http://%s:%d (loading the model)\n", host, srv_http_port(h));

    int status = EXIT_ERR;
    srv_sched *sched = NULL;
    octet_model *m = cli_open_model(model, !no_mmap, 0, quiet);
    if (!m) goto out;
    static char tmpl_text[1 << 16];
    read_template(model, tmpl_text, sizeof tmpl_text);
    srv_tmpl tmpl = srv_tmpl_detect(tmpl_text, has_token, m);
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    char eos[64] = "";
    if (mi.eos_id >= 0) {
        int k = octet_token_to_piece(m, mi.eos_id, 1, eos, sizeof eos - 1);
        eos[k > 0 && k < (int)sizeof eos ? k : 0] = 0;
    }
    char bos[64] = "";
    if (mi.bos_id >= 0) {
        int k = octet_token_to_piece(m, mi.bos_id, 1, bos, sizeof bos - 1);
        bos[k > 0 && k < (int)sizeof bos ? k : 0] = 0;
    }
    /* The model's Jinja template when it renders a plain conversation; otherwise the family format, said so. */
    size_t jinja_len = 0;
    const char *jinja = octet_model_chat_template(m, &jinja_len);
    if (jinja) {
        static const char probe[] = "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, "
                                    "{\"role\": \"user\", \"content\": \"u\"}]}";
        char *txt = NULL;
        octet_error terr;
        memset(&terr, 0, sizeof terr);
        if (octet_chat_template_apply(jinja, jinja_len, probe, sizeof probe - 1, bos, eos, 1, &txt, NULL, &terr)) {
            fprintf(stderr, "octet serve: warning: the model's chat template does not render (%s); using the %s format\n",
                    terr.msg, srv_tmpl_name(tmpl));
            jinja = NULL;
        }
        octet_chat_template_free(txt);
    } else if (!quiet) {
        fprintf(stderr, "octet serve: warning: the model has no chat template; using the %s format\n",
                srv_tmpl_name(tmpl));
    }
    if (jinja) srv_http_set_template(h, jinja, jinja_len, bos, log_prompts);
    octet_session_params sp = octet_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_threads = n_threads;
    sp.exec = exec;
    octet_error err;
    memset(&err, 0, sizeof err);
    if (cd.d) srv_sched_session_params(&sp, n_slots);
    if (cd.d && cli_dist_pipeline(&cd, m, model, split, &sp, n_slots) != 0) goto out;
    if (cd.pl ? srv_sched_new_pipeline(&sched, m, cd.pl, SRV_MAX_QUEUE, &err)
              : srv_sched_new(&sched, m, n_slots, SRV_MAX_QUEUE, &sp, &err)) {
        fprintf(stderr, "octet serve: error: %s\n", err.msg[0] ? err.msg : octet_strerror(err.code));
        goto out;
    }
    srv_sched_set_verbose(sched, !quiet);
    char id[128];
    model_id_of(model, id, sizeof id);
    srv_http_set_ready(h, m, sched, id, tmpl, eos);
    if (!quiet)
        fprintf(stderr, "octet serve: ready: model %s, %d slot(s) of %d tokens, chat format %s%s\n", id, n_slots,
                srv_sched_n_ctx(sched), jinja ? "jinja (the model's template)" : srv_tmpl_name(tmpl),
                api_key ? ", API key required" : "");

    /* wait for SIGTERM/SIGINT */
    int sig;
    while (sigwait(&sigs, &sig) != 0) {
    }
    if (!quiet) fprintf(stderr, "octet serve: %s: finishing %d request(s) in flight\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
                        srv_http_inflight(h));
    srv_http_quiesce(h);
    struct timespec t0, now, tick = {0, 20 * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (srv_http_inflight(h) == 0 && srv_sched_busy(sched) == 0) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= SRV_DRAIN_SECONDS) {
            fprintf(stderr, "octet serve: drain timeout; stopping\n");
            break;
        }
        if (sigtimedwait(&sigs, NULL, &tick) > 0) {
            fprintf(stderr, "octet serve: second signal; stopping now\n");
            break;
        }
    }
    status = EXIT_OK;
out:
    srv_sched_shutdown(sched); /* jobs still running end with an error, so no connection waits forever */
    srv_http_stop(h);
    srv_sched_free(sched);
    status = cli_dist_end(&cd, status); /* after the scheduler: finishes the pipeline, ends the other ranks */
    octet_model_close(m);
    if (status == EXIT_OK && !quiet) fprintf(stderr, "octet serve: stopped\n");
    return status;
}

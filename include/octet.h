/*
 * octet.h - the public API of octet, an inference engine for Llama-family decoders.
 *
 * Overview
 * --------
 * octet loads a GGUF model (llama.cpp's file format and its quantized block types), tokenizes text with the
 * tokenizer stored in the file, evaluates token sequences with a KV cache, and samples the next token.
 *
 *   octet_model   an opened model file: weights mapped read-only, hyperparameters, tokenizer. Immutable after
 *                 open, so many sessions may share it.
 *   octet_session one sequence being evaluated: KV cache, activations, thread pool. Allocated once; decoding
 *                 allocates nothing.
 *   octet_sampler picks the next token from logits; owns its RNG state, so equal seeds give equal text.
 *
 * Every fallible function returns 0 or a negative OCTET_E* status and, when given a non-NULL octet_error,
 * fills it with a message naming the file, the field and the reason. Constructors hand objects out through
 * an out-parameter. Nothing in the library calls exit() or abort() on input, or prints.
 *
 * Worked example (error handling shortened):
 *
 *   octet_error err;
 *   octet_model *m;
 *   if (octet_model_open(&m, "model.gguf", NULL, &err) != 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *   octet_session_params sp = octet_session_default_params();
 *   octet_session *s;
 *   octet_session_new(&s, m, &sp, &err);
 *   int32_t toks[256]; int n;
 *   octet_tokenize(m, "And God said", 12, 1, 0, toks, 256, &n, &err);
 *   octet_session_decode(s, toks, n, 0, &err);           // prompt as one batch, positions 0..n-1
 *   const float *logits = octet_session_logits(s, n - 1);
 *   ...
 *   octet_session_free(s);
 *   octet_model_close(m);
 */
#ifndef OCTET_H
#define OCTET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OCTET_VERSION "0.1.0"

/* ---- status codes -------------------------------------------------------------------------------------- */
enum {
    OCTET_OK = 0,
    OCTET_ENOMEM = -1,       /* an allocation failed */
    OCTET_EIO = -2,          /* open/read/map/write failed */
    OCTET_EFORMAT = -3,      /* the file is malformed */
    OCTET_EINVAL = -4,       /* a bad argument from the caller */
    OCTET_EUNSUPPORTED = -5, /* well-formed, but not something octet supports */
    OCTET_ERANGE = -6,       /* a value out of range (context full, token id too large, ...) */
    OCTET_ENOTFOUND = -7,    /* a key or tensor is absent */
    OCTET_EINTERNAL = -8
};

/* Filled by fallible functions; caller-allocated. code mirrors the return value. */
typedef struct octet_error {
    int code;
    char msg[512];
} octet_error;

const char *octet_strerror(int code);

/* ---- allocation hook (tests use it to fail the Nth allocation) --------------------------------------- */
typedef struct octet_alloc_hooks {
    void *(*malloc_fn)(size_t n, void *ud);
    void *(*calloc_fn)(size_t n, size_t size, void *ud);
    void (*free_fn)(void *p, void *ud);
    void *ud;
} octet_alloc_hooks;
/* NULL restores the C library's allocator. Not thread-safe: set before creating objects. */
void octet_set_alloc_hooks(const octet_alloc_hooks *hooks);

/* ---- log callback (load progress and warnings). Default: silent. ------------------------------------ */
typedef void (*octet_log_fn)(int level, const char *msg, void *ud);
enum { OCTET_LOG_ERROR = 0, OCTET_LOG_WARN = 1, OCTET_LOG_INFO = 2, OCTET_LOG_DEBUG = 3 };
void octet_set_log(octet_log_fn fn, void *ud);

/* Kernel sets: one per instruction set ("ref", the portable specification; "avx2"; "avxvnni" = AVX2 + AVX-VNNI;
 * "avx512" = AVX-512 F/BW/VL/DQ + VNNI; on ARM "neon", "dotprod", "i8mm"), each bit-identical to "ref". The best
 * set the CPU can run is chosen at the first use, unless OCTET_ISA=NAME (or OCTET_PORTABLE=1, meaning "ref") is
 * set in the environment. */
/* The set in use. */
const char *octet_kernel_isa(void);
/* The i-th set this CPU can run (0 = "ref", increasing capability), NULL past the last. */
const char *octet_isa_name(int i);
/* Use the named set (one this CPU can run); call before creating sessions. OCTET_EINVAL naming the sets this CPU
 * can run otherwise. */
int octet_set_isa(const char *name, octet_error *err);
/* octet_set_isa("ref") for on != 0, the best set otherwise. */
void octet_force_portable(int on);

/* ---- GGUF file inspection ------------------------------------------------------------------------------ */
typedef struct octet_gguf octet_gguf;

int octet_gguf_open(octet_gguf **out, const char *path, octet_error *err);
void octet_gguf_close(octet_gguf *g);
uint32_t octet_gguf_version(const octet_gguf *g);
int64_t octet_gguf_n_kv(const octet_gguf *g);
int64_t octet_gguf_n_tensors(const octet_gguf *g);
/* Key i as a NUL-terminated string, and its value rendered for humans (arrays summarised) into buf. */
const char *octet_gguf_key(const octet_gguf *g, int64_t i);
void octet_gguf_value_str(const octet_gguf *g, int64_t i, char *buf, size_t buf_size);

typedef struct octet_tensor_info {
    const char *name;
    int n_dims;
    int64_t ne[4];      /* ne[0] is the row length (innermost) */
    int type;           /* GGML type id */
    const char *type_name;
    uint64_t offset;    /* from the start of the file */
    uint64_t n_bytes;
} octet_tensor_info;
int octet_gguf_tensor_info(const octet_gguf *g, int64_t i, octet_tensor_info *out);
/* The string value of key, copied NUL-terminated into buf (cut to buf_size - 1 bytes). Returns the full
 * length in bytes, OCTET_ENOTFOUND when absent, or OCTET_EFORMAT when the value is not a string. */
int64_t octet_gguf_get_str(const octet_gguf *g, const char *key, char *buf, size_t buf_size);

/* ---- models --------------------------------------------------------------------------------------------- */
typedef struct octet_model octet_model;

typedef struct octet_model_params {
    int use_mmap;  /* 1 (default): map the file; 0: read it into memory */
    int use_mlock; /* lock the mapping in RAM */
} octet_model_params;
octet_model_params octet_model_default_params(void);

int octet_model_open(octet_model **out, const char *path, const octet_model_params *params, octet_error *err);
void octet_model_close(octet_model *m);

typedef struct octet_model_info {
    char arch[32];
    char name[128];
    int n_vocab;
    int n_ctx_train;
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim;
    int n_ff;
    float rope_freq_base;
    float rope_scale;   /* linear scaling factor (1 = none) */
    float norm_eps;
    int tied_output;    /* output weight shared with token_embd */
    int qkv_bias;
    uint64_t n_params;
    uint64_t weight_bytes; /* bytes of all tensors */
    const char *file_type; /* dominant weight type name */
    char tokenizer[16];    /* "llama" or "gpt2" */
    char tokenizer_pre[32];
    int bos_id, eos_id;    /* -1 when absent */
    int add_bos;
} octet_model_info;
void octet_model_get_info(const octet_model *m, octet_model_info *out);

/* ---- tokenizer --------------------------------------------------------------------------------------- */
/* Tokenize len bytes of text. add_bos: prepend BOS when the model asks for it (tokenizer.ggml.add_bos_token,
 * default per tokenizer type). parse_special: recognise control tokens such as "<s>" in the text.
 * Writes at most n_max ids; *n_out is the number of tokens the text needs (may exceed n_max: OCTET_ERANGE). */
int octet_tokenize(const octet_model *m, const char *text, size_t len, int add_bos, int parse_special,
                   int32_t *out, int n_max, int *n_out, octet_error *err);
/* The bytes token id stands for (possibly a partial UTF-8 sequence). Returns the byte count, or a negative
 * status when id is out of range. Writes at most buf_size bytes; control tokens give "" unless special. */
int octet_token_to_piece(const octet_model *m, int32_t id, int special, char *buf, size_t buf_size);
int octet_token_is_eog(const octet_model *m, int32_t id);
int octet_n_vocab(const octet_model *m);

/* ---- sessions -------------------------------------------------------------------------------------------- */
typedef struct octet_session octet_session;

/* Execution modes: float activations (fastest on a CPU), or integer-only arithmetic in the per-token path
 * (int8 weights and activations, int32 accumulation, fixed-point rescaling; see docs/integer.md). */
enum { OCTET_EXEC_FLOAT = 0, OCTET_EXEC_INT = 1 };

typedef struct octet_session_params {
    int exec;       /* OCTET_EXEC_FLOAT (default) or OCTET_EXEC_INT */
    int n_ctx;      /* KV cache slots; 0: min(model context, 4096) */
    int n_threads;  /* 0: number of online CPUs */
    int n_batch;    /* maximum tokens per forward pass (prompt chunks); 0: 512 */
    int logits_all; /* 1: keep logits for every token of a decode call; 0: only the last n_logits */
    int n_logits;   /* without logits_all: keep the logits of the last n_logits tokens of a decode call (0 or 1:
                     * the last token's only; at most n_batch; speculative decoding verifies drafts this way) */
    int layer_begin, layer_end; /* pipeline stage: run layers [begin, end) only; 0, 0: all layers */
} octet_session_params;
octet_session_params octet_session_default_params(void);

int octet_session_new(octet_session **out, const octet_model *m, const octet_session_params *params,
                      octet_error *err);
void octet_session_free(octet_session *s);
/* Evaluate n tokens appended to the cache; the first sits at position pos (later ones at pos+1, ...). pos may
 * exceed the context length: only cache slots are bounded, by n_ctx. Long inputs are split into n_batch
 * chunks internally. */
int octet_session_decode(octet_session *s, const int32_t *tokens, int n, int64_t pos, octet_error *err);
/* Decode one token for each of n sessions in a single forward pass, so the weights are read once for all of
 * them (servers batch their slots this way). All sessions must share the model and execution mode and be
 * distinct; tokens[i] is appended to sessions[i] at position pos[i]. Afterwards octet_session_logits
 * (sessions[i], 0) gives that session's logits. The thread pool and scratch of the session with the largest
 * context among those whose n_batch >= n are used. Results equal those of decoding each session alone. */
int octet_session_decode_batch(octet_session *const *sessions, const int32_t *tokens, const int64_t *pos, int n,
                               octet_error *err);
/* Pipeline stages (distributed inference): a session created with layer_begin/layer_end runs only those
 * layers and keeps only their KV cache. The first stage (layer_begin == 0) takes tokens; a later stage takes
 * hidden_in, the n x n_embd hidden states the previous stage produced. A stage that does not end at the last
 * layer writes its n x n_embd output states to hidden_out; the last stage produces logits as usual (then
 * hidden_out may be NULL). Slots and positions work as in octet_session_decode. On the last stage (a whole-model
 * session included) a non-NULL hidden_out receives the final hidden states of all n tokens after the output norm
 * (the input of the output matrix; embeddings pool them); float mode only (OCTET_EUNSUPPORTED in integer mode). */
int octet_session_decode_stage(octet_session *s, const int32_t *tokens, const float *hidden_in, int n, int64_t pos,
                               float *hidden_out, octet_error *err);
/* Logits (n_vocab floats) of token i of the last decode call (i = n-1 when logits_all is 0). */
const float *octet_session_logits(const octet_session *s, int i);
int octet_session_n_past(const octet_session *s);
int octet_session_n_ctx(const octet_session *s);
/* Drop the cache from slot n on (0 clears it). */
void octet_session_truncate(octet_session *s, int n);

/* ---- quantization --------------------------------------------------------------------------------------- */
/* Write a copy of a float (F32/F16/BF16) GGUF model with its weights converted to another type. Targets (case
 * does not matter): Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K F16 BF16 F32 and llama.cpp's mixes Q4_K_S Q4_K_M
 * Q5_K_S Q5_K_M; the per-tensor policy (norms kept F32, output at Q6_K, attn_v / ffn_down bumps, fallbacks
 * for rows that are not a multiple of 256) follows llama.cpp and is described in docs/quantize.md. Metadata is
 * copied, general.file_type and general.quantization_version are set. The output is written to a temporary
 * file in out's folder and renamed once complete: on any error (or cancellation) out is not touched and the
 * temporary file is removed. */
typedef struct octet_quantize_progress {
    int64_t i_tensor, n_tensors; /* tensor being written (0-based) and the total */
    const char *name;            /* its name */
    const char *type_in, *type_out;
    uint64_t rows_done, n_rows;  /* of this tensor */
    uint64_t bytes_written;      /* bytes in the output file so far */
    int tensor_done;             /* 1 on the last call for this tensor */
} octet_quantize_progress;
/* Called on the calling thread after each chunk of rows; return nonzero to cancel (OCTET_EINVAL, "cancelled"). */
typedef int (*octet_quantize_progress_fn)(const octet_quantize_progress *p, void *ud);

typedef struct octet_quantize_params {
    const char *type;             /* target, e.g. "Q4_K_M" (required) */
    int n_threads;                /* 0: number of online CPUs */
    int allow_requantize;         /* 0: refuse already-quantized input; 1: dequantize and quantize again */
    octet_quantize_progress_fn progress;
    void *progress_ud;
} octet_quantize_params;
octet_quantize_params octet_quantize_default_params(void);

typedef struct octet_quantize_stats {
    int64_t n_tensors;
    int64_t n_converted;          /* tensors whose type changed */
    int64_t n_fallback;           /* tensors given another type because of their row length */
    uint64_t n_elements;          /* weights in all tensors */
    uint64_t tensor_bytes_in, tensor_bytes_out;
    uint64_t file_bytes_in, file_bytes_out;
    int ftype;                    /* general.file_type written */
    double seconds;
} octet_quantize_stats;

/* stats may be NULL. Errors: OCTET_EINVAL (unknown type, cancelled), OCTET_EUNSUPPORTED (quantized input
 * without allow_requantize, a tensor type octet cannot convert), OCTET_EIO, OCTET_EFORMAT, OCTET_ENOMEM. */
int octet_model_quantize(const char *in, const char *out, const octet_quantize_params *params,
                         octet_quantize_stats *stats, octet_error *err);

/* ---- conversion from Hugging Face checkpoints ----------------------------------------------------------- */
/* Convert the Hugging Face checkpoint in folder dir (config.json; model.safetensors or the shards named by
 * model.safetensors.index.json; tokenizer.model or tokenizer.json; optional tokenizer_config.json) of a
 * LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM model to a GGUF file at out. outtype is the GGML
 * type of the matrices: 0 (F32), 1 (F16) or 30 (BF16); norms and biases are always F32. q/k rows are permuted
 * to GGUF's RoPE layout for llama/mistral; the tokenizer and special tokens are carried over (docs/convert.md).
 * The output is written to a temporary file and renamed when complete: on error out is not touched.
 * Progress lines go to the log callback (OCTET_LOG_INFO). Errors name the file and the problem:
 * OCTET_EIO (missing file), OCTET_EFORMAT (malformed safetensors, JSON or protobuf, inconsistent shapes),
 * OCTET_EUNSUPPORTED (architecture, dtype, RoPE scaling or tokenizer kind), OCTET_EINVAL, OCTET_ENOMEM. */
int octet_convert_hf(const char *dir, const char *out, int outtype, octet_error *err);
/* Name and one-line description of target i, 0 <= i; NULL past the end. */
const char *octet_quantize_type_name(int i, const char **desc);

/* ---- chat templates ------------------------------------------------------------------------------------ */
/* Render a Jinja chat template (tokenizer.chat_template; tmpl[0..tmpl_len)) for a chat-completions request body
 * (JSON text: "messages", optional "tools", optional "chat_template_kwargs" object, ...), as Hugging Face
 * transformers' apply_chat_template does (src/text/jinja.h lists the semantics). The template's variables:
 * bos_token and eos_token (NULL: ""), tools = none, then every top-level key of the body, then every key of its
 * chat_template_kwargs object (so "enable_thinking" works either way), then add_generation_prompt.
 * *out: NUL-terminated, free with octet_chat_template_free; *out_len its length (may be NULL).
 * Errors: OCTET_EFORMAT (body not a JSON object; template syntax or runtime error, raise_exception: the message
 * names the template line), OCTET_ERANGE (output, memory, loop or nesting limit), OCTET_ENOMEM. */
int octet_chat_template_apply(const char *tmpl, size_t tmpl_len, const char *body_json, size_t body_len,
                              const char *bos_token, const char *eos_token, int add_generation_prompt, char **out,
                              size_t *out_len, octet_error *err);
void octet_chat_template_free(char *s);
/* The model's tokenizer.chat_template: a pointer into the model file (not NUL-terminated, valid while the model
 * is open) and *len, or NULL when the file has none (or the key is not a string). */
const char *octet_model_chat_template(const octet_model *m, size_t *len);

/* ---- sampling ------------------------------------------------------------------------------------------- */
typedef struct octet_sampler octet_sampler;

typedef struct octet_sampler_params {
    float temp;           /* <= 0: greedy */
    int top_k;            /* <= 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off */
    int repeat_last_n;    /* window of recent tokens penalised */
    uint64_t seed;
} octet_sampler_params;
octet_sampler_params octet_sampler_default_params(void);

int octet_sampler_new(octet_sampler **out, const octet_sampler_params *params, int n_vocab, octet_error *err);
void octet_sampler_free(octet_sampler *s);
/* Pick a token from logits (not modified). */
int32_t octet_sampler_sample(octet_sampler *s, const float *logits);
/* Record a token as part of the history (for the repeat penalty). */
void octet_sampler_accept(octet_sampler *s, int32_t token);
/* Speculative decoding's draw for a drafted token: the returned token is distributed exactly as
 * octet_sampler_sample's; *accepted is 1 when it is the draft (with probability p(draft); greedy: when the draft
 * is the greedy pick). When the draft is rejected, the token is drawn from the rest of the distribution. */
int32_t octet_sampler_sample_draft(octet_sampler *s, const float *logits, int32_t draft, int *accepted);

/* ---- speculative decoding: drafts to verify (src/model/draft.c) ----------------------------------------- */
/* A drafter guesses the next tokens cheaply; the target model evaluates them in one pass (a session with
 * n_logits >= max + 1) and keeps each with octet_sampler_sample_draft, so the output is distributed exactly as
 * without drafting (greedy: the same tokens). With draft_model NULL the guesses come from prompt lookup: the
 * tokens that followed the latest earlier occurrence of the history's last n-gram. */
typedef struct octet_drafter octet_drafter;
typedef struct octet_drafter_params {
    const octet_model *draft_model; /* a smaller model with the target's vocabulary, or NULL: prompt lookup */
    int n_ctx, n_threads, exec;     /* the draft model's session (0: defaults) */
    float p_min;                    /* the draft model proposes while its greedy pick has at least this probability */
    int ngram_min, ngram_max;       /* prompt lookup: n-gram sizes tried, longest first */
} octet_drafter_params;
octet_drafter_params octet_drafter_default_params(void);
int octet_drafter_new(octet_drafter **out, const octet_model *target, const octet_drafter_params *params,
                      octet_error *err);
void octet_drafter_free(octet_drafter *d);
/* Up to max guesses for the tokens after history[0..n) into out; returns how many (0: no guess), or a negative
 * status code (err set). */
int octet_drafter_draft(octet_drafter *d, const int32_t *history, int n, int32_t *out, int max, octet_error *err);

/* ---- constrained decoding: grammars (src/text/grammar.c, json_schema.c) -------------------------------- */
/* A grammar in GBNF, the format of llama.cpp's grammars: rules `name ::= alternatives`, `|`, sequences,
 * grouping ( ), repetition * + ? {m} {m,} {m,n}, string literals "..." and character classes [a-z] [^...] with
 * escapes (\n \t \r \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH), `.` (any character), comments from #; the start rule
 * is `root`. Left recursion is an error. An octet_grammar is a compiled grammar plus a matching state over the
 * UTF-8 bytes accepted so far; it is not thread-safe (clone one per thread or request). */
typedef struct octet_grammar octet_grammar;
/* The vocabulary of a model indexed for masks (token bytes in a trie, end-of-generation tokens). Immutable
 * after creation: one may serve any number of grammars and threads. */
typedef struct octet_grammar_vocab octet_grammar_vocab;

/* Compile len bytes of GBNF. Errors: OCTET_EINVAL with "line L:C: reason" in err, OCTET_ENOMEM. */
int octet_grammar_new(octet_grammar **out, const char *gbnf, size_t len, octet_error *err);
/* A grammar in g's current state sharing g's compiled rules (NULL when out of memory). */
octet_grammar *octet_grammar_clone(const octet_grammar *g);
void octet_grammar_reset(octet_grammar *g); /* back to the start: nothing accepted */
void octet_grammar_free(octet_grammar *g);
/* Advance over n bytes. 0: accepted; OCTET_EINVAL: the bytes leave the language (state unchanged);
 * OCTET_ENOMEM. */
int octet_grammar_accept(octet_grammar *g, const char *bytes, size_t n);
/* 1 when the bytes accepted so far form a complete sentence of the language. */
int octet_grammar_is_complete(octet_grammar *g);

/* The vocabulary of model m (token bytes as octet_token_to_piece gives them with special = 0; control tokens
 * other than end-of-generation ones are never allowed). */
int octet_grammar_vocab_new(octet_grammar_vocab **out, const octet_model *m, octet_error *err);
/* The same from explicit pieces (n tokens; is_eog may be NULL): for tests and other tokenizers. */
int octet_grammar_vocab_from_pieces(octet_grammar_vocab **out, const char *const *pieces, const size_t *lens,
                                    const uint8_t *is_eog, int n, octet_error *err);
void octet_grammar_vocab_free(octet_grammar_vocab *v);
/* allowed[t] = 1 when token t may come next, else 0 (n_vocab bytes). Returns the number allowed, or
 * OCTET_ENOMEM. End-of-generation tokens are allowed only when the grammar is complete. */
int octet_grammar_mask(octet_grammar *g, const octet_grammar_vocab *v, uint8_t *allowed);
/* Advance over token tok's bytes (an end-of-generation token: accepted when the grammar is complete).
 * 0, OCTET_EINVAL (not allowed; state unchanged), OCTET_ERANGE (tok out of range), OCTET_ENOMEM. */
int octet_grammar_accept_token(octet_grammar *g, const octet_grammar_vocab *v, int32_t tok);

/* JSON Schema (len bytes of JSON) to GBNF text (malloc'd, NUL-terminated, *gbnf_len may be NULL). Supported:
 * type (one or a list), properties, required, additionalProperties, enum, const, anyOf, oneOf (as anyOf),
 * allOf of one schema, items, minItems, maxItems, minLength, maxLength, format (date, time, date-time, uuid),
 * $ref within the document (#, #/definitions/..., #/$defs/...). A keyword that would constrain the output
 * and is not supported is an error naming it (OCTET_EUNSUPPORTED), never ignored; annotations (title,
 * description, default, examples, ...) are ignored. A schema of NULL or "{}"-like any-value; json_object mode
 * is the schema {"type": "object"}. */
int octet_json_schema_to_gbnf(const char *schema, size_t len, char **gbnf, size_t *gbnf_len, octet_error *err);

/* Restrict s's draws to the tokens g allows (NULL: no restriction). s neither owns nor advances g: after each
 * draw the caller calls octet_grammar_accept_token. With a grammar, octet_sampler_sample returns -1 when no
 * token is allowed. OCTET_EINVAL when v's vocabulary size differs from the sampler's (nothing set). */
int octet_sampler_set_grammar(octet_sampler *s, octet_grammar *g, const octet_grammar_vocab *v);

/* ---- distributed inference: pipeline stages across processes (docs/distributed.md) ---------------------- */
/* A world of ranks: under mpiexec, in a build with MPI (make MPI=1), MPI_COMM_WORLD; otherwise one rank.
 * Rank 0 drives (tokenizes, samples, does I/O) and runs the first stage; rank r runs the r-th stage. */
typedef struct octet_dist octet_dist;
int octet_dist_available(void); /* 1 when this build has MPI */
int octet_dist_launched(void);  /* 1 when this build has MPI and an MPI launcher started the process */
int octet_dist_open(octet_dist **out, octet_error *err);
int octet_dist_rank(const octet_dist *d);
int octet_dist_size(const octet_dist *d);
/* End every rank of the job now (MPI_Abort); for fatal errors after octet_dist_open. Does not return under
 * MPI. */
void octet_dist_abort(octet_dist *d, int code);
/* Clean end: every rank must call it (after octet_pipeline_finish / serve returned). NULL is accepted. */
void octet_dist_close(octet_dist *d);

/* A model split into contiguous layer ranges, one per rank, with n_seq independent sequences (KV caches) that
 * may be in flight at once: micro-batches of different sequences occupy different stages concurrently.
 * Hidden states travel between stages as float32 (n_embd x 4 bytes per token per boundary); the last stage
 * sends logits to rank 0. Only float execution is supported (integer pipeline stages are not available yet). */
typedef struct octet_pipeline octet_pipeline;
typedef struct octet_pipeline_params {
    octet_session_params session; /* n_ctx, n_batch, n_threads, logits_all, exec of every stage's sessions */
    const char *split;            /* "10,12,10": layers per rank; NULL: balanced by weight bytes */
    int n_seq;                    /* sequences in flight (default 1) */
    double timeout_s;             /* a rank silent this long is reported dead (default 30; heartbeats keep
                                     slow but live ranks from timing out) */
} octet_pipeline_params;
octet_pipeline_params octet_pipeline_default_params(void);
/* Collective: every rank calls it with the same model file and parameters. Checks, through the transport,
 * that every rank opened the same file (fingerprint of the GGUF header, tensor table and size) with the same
 * split and parameters; a mismatch fails on every rank with a message naming the rank. Each rank creates
 * sessions for its layers only, so it reads only those layers' weights (and the embedding rows / output matrix
 * on the first / last stage). model_path is the file m was opened from. */
int octet_pipeline_new(octet_pipeline **out, octet_dist *d, const octet_model *m, const char *model_path,
                       const octet_pipeline_params *params, octet_error *err);
/* Rank 0: run the first stage on n tokens of sequence seq (0 <= seq < n_seq) at positions pos.. and send the
 * result on; returns without waiting for the later stages. reset: clear seq's cache first, on every stage.
 * A sequence may have one submission in flight. */
int octet_pipeline_submit(octet_pipeline *pl, int seq, const int32_t *tokens, int n, int64_t pos, int reset,
                          octet_error *err);
/* Rank 0: wait for the oldest submission to finish; *seq (may be NULL) tells which sequence it was. */
int octet_pipeline_wait(octet_pipeline *pl, int *seq, octet_error *err);
/* Rank 0: submit and wait. */
int octet_pipeline_decode(octet_pipeline *pl, int seq, const int32_t *tokens, int n, int64_t pos, octet_error *err);
/* Rank 0: logits of token i of seq's last finished decode (as octet_session_logits). */
const float *octet_pipeline_logits(const octet_pipeline *pl, int seq, int i);
int octet_pipeline_n_past(const octet_pipeline *pl, int seq);
int octet_pipeline_n_ctx(const octet_pipeline *pl);
int octet_pipeline_n_seq(const octet_pipeline *pl);
/* Ranks > 0: run this rank's stage on whatever arrives until rank 0 finishes. */
int octet_pipeline_serve(octet_pipeline *pl, octet_error *err);
/* Rank 0: tell every stage to stop and wait until they did (waits for submissions still in flight). */
int octet_pipeline_finish(octet_pipeline *pl, octet_error *err);
typedef struct octet_pipeline_stats {
    int rank, n_stages, layer_begin, layer_end;
    int64_t n_tokens;     /* tokens this stage processed */
    double compute_ms;    /* time in this stage's forward passes */
    double wait_ms;       /* time blocked waiting for the previous stage (or, on rank 0, for logits) */
    uint64_t bytes_sent;  /* data bytes this rank sent (headers included) */
    uint64_t n_msgs;
} octet_pipeline_stats;
void octet_pipeline_get_stats(const octet_pipeline *pl, octet_pipeline_stats *out);
void octet_pipeline_free(octet_pipeline *pl);

/* ---- synthetic models (speed work without downloads) --------------------------------------------------- */
/* Write a random-weight llama GGUF of a real shape (tinyllama-1.1b, llama-7b, llama-7b-layers:N, smollm-135m,
 * test-tiny) with its 2-D weights in type (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K) to path, written
 * to a temporary file and renamed. The same arguments give the same bytes for any n_threads (0: all CPUs).
 * *bytes_out (optional): the file size. Errors: OCTET_EINVAL (shape or type), OCTET_EIO, OCTET_ENOMEM. */
int octet_synth_model(const char *path, const char *shape, const char *type, int n_threads, uint64_t seed,
                      uint64_t *bytes_out, octet_error *err);
/* The accepted shape names, for help text. */
const char *octet_synth_shape_names(void);

#ifdef __cplusplus
}
#endif
#endif /* OCTET_H */

/*
 * grammar.h - constrained decoding: GBNF grammars (the format llama.cpp's users write; see grammar.c for the
 * accepted syntax) compiled to a pushdown matcher over UTF-8 bytes, JSON Schema converted to GBNF
 * (json_schema.c), and the token mask the sampler applies. The public API is in include/octet.h
 * (octet_grammar_*, octet_json_schema_to_gbnf, octet_sampler_set_grammar); this header adds what the sampler
 * needs inside the library.
 */
#ifndef OCTET_GRAMMAR_H
#define OCTET_GRAMMAR_H

#include <stdint.h>

#include "octet.h"

/* The tokens allowed in g's current state as a bitmap of v's n_vocab bits (bit t of word t/64); end-of-generation
 * tokens are set only when the grammar can be complete. The bitmap is cached per grammar state and stays valid
 * until the next call on g. NULL when out of memory. *n_allowed (may be NULL) gets the number of bits set. */
const uint64_t *octet__grammar_allowed(octet_grammar *g, const octet_grammar_vocab *v, int *n_allowed);
/* 1 when token tok may come next (without computing the whole mask), 0 otherwise. */
int octet__grammar_token_ok(octet_grammar *g, const octet_grammar_vocab *v, int32_t tok);
int octet__grammar_vocab_n(const octet_grammar_vocab *v);

#endif

/*
 * unicode.h - the little Unicode the tokenizers need: UTF-8 decoding with llama.cpp's leniency rules, codepoint
 * classes for the pre-tokenizer scanners (from the generated table in unicode_data.c), and GPT-2's byte-level
 * alphabet (every byte 0..255 mapped to a printable codepoint, so byte strings become ordinary text).
 */
#ifndef OCTET_TEXT_UNICODE_H
#define OCTET_TEXT_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Class bits: one general-category class per codepoint (\p{N}, \p{L}, \p{Z}, \p{M}, \p{P}, \p{S}, \p{C}; Cn
 * counts as C) plus the White_Space property (\s). */
enum {
    OCTET__UCP_NUMBER = 0x02,
    OCTET__UCP_LETTER = 0x04,
    OCTET__UCP_SEPARATOR = 0x08,
    OCTET__UCP_MARK = 0x10,
    OCTET__UCP_PUNCT = 0x20,
    OCTET__UCP_SYMBOL = 0x40,
    OCTET__UCP_CONTROL = 0x80,
    OCTET__UCP_CLASS_MASK = 0xFF,
    OCTET__UCP_SPACE = 0x100
};

/* The generated tables (unicode_data.c, tools/gen_unicode.py: its header comment says what each holds). */
typedef struct octet__ucd_decomp_row {
    uint32_t cp;
    uint16_t canon_off;
    uint8_t canon_len; /* 0: no canonical decomposition */
    uint16_t compat_off;
    uint8_t compat_len;
} octet__ucd_decomp_row;
extern const char octet__ucd_version[];
extern const int octet__ucd_n_ccc, octet__ucd_n_decomp, octet__ucd_n_comp, octet__ucd_n_lower;
extern const uint32_t octet__ucd_ccc_tab[];
extern const octet__ucd_decomp_row octet__ucd_decomp[];
extern const uint32_t octet__ucd_decomp_pool[];
extern const uint32_t octet__ucd_comp[][3];
extern const uint32_t octet__ucd_lower[][2];
extern const int octet__ucp_n_ranges;
extern const uint32_t octet__ucp_range_start[];
extern const uint16_t octet__ucp_range_flags[];

/* Unicode normalization forms (UAX #15) of n codepoints: NFD/NFKD = full canonical/compatibility decomposition
 * then canonical ordering; NFC/NFKC = that, then canonical composition (primary composites, Hangul). *out is
 * allocated (octet__free), *n_out codepoints. Returns 0 or OCTET_ENOMEM. */
enum { OCTET__NFC = 1, OCTET__NFD, OCTET__NFKC, OCTET__NFKD };
int octet__unorm(int form, const uint32_t *in, size_t n, uint32_t **out, size_t *n_out);
/* Canonical_Combining_Class of cp; simple lowercase mapping of cp (cp itself when none). */
int octet__ucd_ccc(uint32_t cp);
uint32_t octet__ucd_lower_of(uint32_t cp);

/* Flags of codepoint cp; codepoints past U+10FFFF count as unassigned (class C). */
unsigned octet__ucp_flags(uint32_t cp);

/* Byte length announced by a UTF-8 lead byte (1 for continuation bytes and 0xF8..0xFF), as llama.cpp's
 * unicode_len_utf8: 0x00-0xBF -> 1, 0xC0-0xDF -> 2, 0xE0-0xEF -> 3, 0xF0-0xFF -> 4. */
static inline size_t octet__utf8_len(unsigned char c) {
    static const unsigned char lut[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lut[c >> 4];
}

/* Decode one codepoint at s[*off] (off < n). Malformed input (a stray continuation byte, a truncated sequence,
 * a lead byte 0xF8..0xFF, or a value past U+10FFFF) yields U+FFFD and consumes one byte. Overlong forms and
 * surrogates are accepted as they decode, as llama.cpp does. */
uint32_t octet__utf8_decode(const unsigned char *s, size_t n, size_t *off);
/* Encode cp (<= U+10FFFF) into out (4 bytes); returns the byte count. */
int octet__utf8_encode(uint32_t cp, unsigned char *out);

/* GPT-2 byte-level alphabet: the codepoint standing for byte b, and the inverse (-1 when cp stands for no
 * byte). Printable bytes ! .. ~, 0xA1 .. 0xAC, 0xAE .. 0xFF map to themselves; the other 68 bytes, in increasing
 * order, to U+0100, U+0101, ... (the published bytes_to_unicode table of OpenAI's GPT-2 encoder). */
uint32_t octet__byte_to_ucp(unsigned char b);
int octet__ucp_to_byte(uint32_t cp);

#endif

/*
 * unicode.c - UTF-8 decoding/encoding, codepoint class lookup (binary search over the generated range table),
 * and the GPT-2 byte-level alphabet. See unicode.h for the contracts.
 */
#include "text/unicode.h"

unsigned octet__ucp_flags(uint32_t cp) {
    if (cp >= 0x110000) return OCTET__UCP_CONTROL;
    int lo = 0, hi = octet__ucp_n_ranges - 1; /* find the last range whose start <= cp; start[0] == 0 */
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (octet__ucp_range_start[mid] <= cp) lo = mid;
        else hi = mid - 1;
    }
    return octet__ucp_range_flags[lo];
}

static int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

uint32_t octet__utf8_decode(const unsigned char *s, size_t n, size_t *off) {
    size_t i = *off;
    unsigned char c = s[i];
    if (c < 0x80) {
        *off = i + 1;
        return c;
    }
    uint32_t cp;
    size_t len;
    if (!(c & 0x40)) goto bad; /* continuation byte */
    if (!(c & 0x20)) len = 2, cp = c & 0x1Fu;
    else if (!(c & 0x10)) len = 3, cp = c & 0x0Fu;
    else if (!(c & 0x08)) len = 4, cp = c & 0x07u;
    else goto bad;
    if (n - i < len) goto bad;
    for (size_t k = 1; k < len; k++) {
        if (!is_cont(s[i + k])) goto bad;
        cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    if (cp > 0x10FFFF) goto bad; /* llama.cpp throws on re-encoding these; we treat them as malformed */
    *off = i + len;
    return cp;
bad:
    *off = i + 1;
    return 0xFFFD;
}

int octet__utf8_encode(uint32_t cp, unsigned char *out) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | ((cp >> 18) & 0x07));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int byte_is_printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

uint32_t octet__byte_to_ucp(unsigned char b) {
    if (byte_is_printable(b)) return b;
    uint32_t n = 0; /* rank of b among the non-printable bytes */
    for (unsigned k = 0; k < b; k++) n += !byte_is_printable(k);
    return 256 + n;
}

int octet__ucp_to_byte(uint32_t cp) {
    if (cp < 256) return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    uint32_t n = cp - 256;
    for (unsigned k = 0; k < 256; k++) {
        if (!byte_is_printable(k)) {
            if (n == 0) return (int)k;
            n--;
        }
    }
    return -1;
}

/*
 * test_grammar.c - the GBNF engine and the JSON Schema converter against hand-written expectations: each
 * construct accepts the strings it should and refuses the ones it should not (whole-string match: every byte
 * accepted and the grammar complete at the end); errors name line:col; left recursion is refused; the token
 * mask equals the brute-force answer (a clone of the grammar fed each token's bytes); end-of-generation is
 * allowed only when complete; the sampler draws only allowed tokens; JSON schemas accept documents valid under
 * them and refuse invalid ones (the expectations are by hand from the JSON Schema specification).
 */
#include "octet.h"
#include "test.h"

/* 1: the whole string is a sentence; 0: refused somewhere or incomplete; -1: the grammar did not compile */
static int match(const char *gbnf, const char *s, size_t n) {
    octet_grammar *g = NULL;
    octet_error err;
    if (octet_grammar_new(&g, gbnf, strlen(gbnf), &err)) {
        fprintf(stderr, "  grammar error: %s\n", err.msg);
        return -1;
    }
    int ok = octet_grammar_accept(g, s, n) == 0 && octet_grammar_is_complete(g);
    /* the same byte by byte */
    octet_grammar_reset(g);
    int ok2 = 1;
    for (size_t i = 0; i < n && ok2; i++) ok2 = octet_grammar_accept(g, s + i, 1) == 0;
    ok2 = ok2 && octet_grammar_is_complete(g);
    octet_grammar_free(g);
    if (ok != ok2) return -2;
    return ok;
}

#define YES(g, s) CHECKF(match(g, s, strlen(s)) == 1, "%s should accept \"%s\"", g, s)
#define NO(g, s) CHECKF(match(g, s, strlen(s)) == 0, "%s should refuse \"%s\"", g, s)

static void compile_error(const char *gbnf, const char *want) {
    octet_grammar *g = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    int rc = octet_grammar_new(&g, gbnf, strlen(gbnf), &err);
    CHECKF(rc != 0 && strstr(err.msg, want), "\"%s\": want an error with \"%s\", got rc %d \"%s\"", gbnf, want, rc,
           err.msg);
    octet_grammar_free(g);
}

static void test_constructs(void) {
    YES("root ::= \"abc\"", "abc");
    NO("root ::= \"abc\"", "ab");
    NO("root ::= \"abc\"", "abcd");
    NO("root ::= \"abc\"", "abd");
    YES("root ::= \"a\" | \"b\" | \"cd\"", "cd");
    NO("root ::= \"a\" | \"b\" | \"cd\"", "c");
    YES("root ::= x y\nx ::= \"x\"\ny ::= \"y\"", "xy");
    NO("root ::= x y\nx ::= \"x\"\ny ::= \"y\"", "yx");
    /* grouping */
    YES("root ::= (\"a\" | \"b\") \"c\"", "bc");
    NO("root ::= (\"a\" | \"b\") \"c\"", "c");
    /* repetition */
    YES("root ::= \"a\"*", "");
    YES("root ::= \"a\"*", "aaaa");
    NO("root ::= \"a\"+", "");
    YES("root ::= \"a\"+", "aaa");
    YES("root ::= \"a\"? \"b\"", "b");
    YES("root ::= \"a\"? \"b\"", "ab");
    NO("root ::= \"a\"? \"b\"", "aab");
    YES("root ::= \"a\"{3}", "aaa");
    NO("root ::= \"a\"{3}", "aa");
    NO("root ::= \"a\"{3}", "aaaa");
    YES("root ::= \"a\"{2,}", "aaaaa");
    NO("root ::= \"a\"{2,}", "a");
    YES("root ::= \"a\"{1,3}", "a");
    YES("root ::= \"a\"{1,3}", "aaa");
    NO("root ::= \"a\"{1,3}", "aaaa");
    NO("root ::= \"a\"{1,3}", "");
    YES("root ::= \"a\"{0,2} \"b\"", "b");
    YES("root ::= (\"ab\"){2}", "abab");
    NO("root ::= (\"ab\"){2}", "aba");
    YES("root ::= \"ab\"{2}", "abab"); /* a string literal repeats as a whole */
    /* character classes */
    YES("root ::= [a-z]+", "hello");
    NO("root ::= [a-z]+", "Hello");
    YES("root ::= [^a-z]", "A");
    NO("root ::= [^a-z]", "q");
    YES("root ::= [a-cx]*", "abcx");
    YES("root ::= [\\x41-\\x43]", "B");
    NO("root ::= [\\x41-\\x43]", "D");
    YES("root ::= [\\u00e9]", "\xc3\xa9");
    YES("root ::= [\\U0001F600-\\U0001F64F]", "\xf0\x9f\x98\x80");
    NO("root ::= [\\U0001F600-\\U0001F64F]", "\xf0\x9f\x99\x90"); /* U+1F650 */
    YES("root ::= [^\"\\\\]+", "h\xc3\xa9llo \xe4\xb8\x96\xf0\x9f\x98\x80"); /* multi-byte in a negated class */
    NO("root ::= [^\"\\\\]+", "a\"b");
    NO("root ::= [^a]", "\xed\xa0\x80"); /* a surrogate is not UTF-8 */
    NO("root ::= [^a]", "\xc0\x80");     /* overlong */
    YES("root ::= [α-ω]+", "\xce\xb1\xce\xb2\xcf\x89");
    NO("root ::= [α-ω]+", "\xce\x91"); /* capital alpha */
    YES("root ::= [\\-\\]]+", "-]-");
    /* any character */
    YES("root ::= . . .", "a\xc3\xa9\xe2\x82\xac");
    NO("root ::= .", "ab");
    NO("root ::= .", "\xff");
    /* escapes in strings */
    YES("root ::= \"a\\nb\\t\\\"\\\\\"", "a\nb\t\"\\");
    YES("root ::= \"\\x41\\u00e9\\U0001F600\"", "A\xc3\xa9\xf0\x9f\x98\x80");
    YES("root ::= \"h\xc3\xa9\"", "h\xc3\xa9"); /* UTF-8 in the grammar text */
    /* comments, layout */
    YES("# a comment\nroot ::= a # trailing\n  a ::= \"x\" |\n  \"y\"\n", "y");
    YES("root ::= \"a\"\n     | \"b\"\n", "b");
    YES("root ::= (\n  \"a\"\n  \"b\"\n)\n", "ab");
    /* recursion (right and nested) */
    YES("root ::= \"(\" root \")\" | \"\"", "((()))");
    NO("root ::= \"(\" root \")\" | \"\"", "(()");
    YES("root ::= item (\",\" item)*\nitem ::= [0-9]+", "1,22,333");
    /* embedded NUL */
    CHECK(match("root ::= \"a\\x00b\"", "a\0b", 3) == 1);
}

static void test_errors(void) {
    compile_error("root ::= foo", "line 1:10: undefined rule 'foo'");
    compile_error("a ::= \"x\"", "no rule named 'root'");
    compile_error("root ::= \"abc", "line 1:10: unterminated string");
    compile_error("root ::= [a-", "unterminated character class");
    compile_error("root ::= \"a\"\nroot ::= \"b\"", "line 2:1: rule 'root' is defined twice");
    compile_error("root ::= (\"a\"", "'(' without a matching ')'");
    compile_error("root ::= \"a\" )", "')' without a matching '('");
    compile_error("root ::= \"a\"{3,1}", "n < m");
    compile_error("root ::= \"\\q\"", "unknown escape");
    compile_error("root ::= [z-a]", "end before its start");
    compile_error("root ::= *", "line 1:10");
    compile_error("root = \"a\"", "expected '::='");
    compile_error("root ::= \"\\xZZ\"", "hexadecimal");
    compile_error("root ::= \"a\"{200000}", "repetition count");
    /* left recursion, direct and through a nullable prefix and another rule */
    compile_error("root ::= root \"a\" | \"b\"", "left recursion: root -> root");
    compile_error("root ::= x\nx ::= y? root \"a\"\ny ::= \"y\"", "left recursion");
    compile_error("root ::= (\"\")*", "left recursion");
    compile_error("root ::= a\na ::= b \"x\"\nb ::= a | \"c\"", "line 2:1: left recursion: a -> b -> a");
}

/* the mask against brute force on a small vocabulary */
static void test_mask(void) {
    const char *pieces[] = {"", "{", "}", "\"", "a", "ab", "abc", "b", ":", "1", "12", " ", "{\"", "\"a", "\xc3\xa9",
                            "\xc3", "\xa9", "</s>", "xyz", "\"}", ",", "true"};
    enum { N = sizeof pieces / sizeof pieces[0] };
    size_t lens[N];
    uint8_t eog[N];
    for (int i = 0; i < N; i++) {
        lens[i] = strlen(pieces[i]);
        eog[i] = i == 17;
    }
    pieces[17] = NULL;
    lens[17] = 0;
    octet_grammar_vocab *v = NULL;
    octet_error err;
    CHECK(octet_grammar_vocab_from_pieces(&v, pieces, lens, eog, N, &err) == 0);
    const char *gb = "root ::= \"{\" ( kv ( \",\" kv )* )? \"}\"\n"
                     "kv ::= \"\\\"\" [a-c\\u00e9]* \"\\\"\" \":\" \" \"? ( [0-9]+ | \"true\" )";
    octet_grammar *g = NULL;
    CHECK(octet_grammar_new(&g, gb, strlen(gb), &err) == 0);
    if (!g || !v) return;
    /* walk a document token by token, checking the mask at every step */
    const int path[] = {12, 4, 14, 15, 16, 3, 8, 11, 10, 20, 13, 3, 8, 21, 2};
    uint8_t mask[N];
    for (size_t k = 0; k <= sizeof path / sizeof path[0]; k++) {
        int na = octet_grammar_mask(g, v, mask);
        int cnt = 0;
        for (int t = 0; t < N; t++) {
            int want;
            if (t == 17) want = octet_grammar_is_complete(g);
            else if (!pieces[t] || !lens[t]) want = 0;
            else {
                octet_grammar *c = octet_grammar_clone(g);
                want = octet_grammar_accept(c, pieces[t], lens[t]) == 0;
                octet_grammar_free(c);
            }
            CHECKF(mask[t] == want, "step %zu token %d (\"%s\"): mask %d, brute force %d", k, t,
                   pieces[t] ? pieces[t] : "</s>", mask[t], want);
            cnt += want;
        }
        CHECK(na == cnt);
        if (k == sizeof path / sizeof path[0]) break;
        CHECKF(octet_grammar_accept_token(g, v, path[k]) == 0, "step %zu token %d refused", k, path[k]);
    }
    CHECK(octet_grammar_is_complete(g));
    CHECK(octet_grammar_accept_token(g, v, 17) == 0);   /* end of generation when complete */
    CHECK(octet_grammar_accept_token(g, v, 4) != 0);    /* nothing after the closing brace */
    CHECK(octet_grammar_accept_token(g, v, N) == OCTET_ERANGE);
    octet_grammar_reset(g);
    CHECK(!octet_grammar_is_complete(g));
    CHECK(octet_grammar_accept_token(g, v, 17) != 0);   /* not complete: no end of generation */
    CHECK(octet_grammar_mask(g, v, mask) == 2 && mask[1] && mask[12]);

    /* the sampler: the best logits belong to refused tokens; greedy and sampling pick allowed ones */
    float logits[N];
    for (int t = 0; t < N; t++) logits[t] = (float)t * 0.1f;
    logits[18] = 50.0f; /* "xyz" never allowed */
    logits[17] = 40.0f; /* EOG: refused while incomplete */
    for (int mode = 0; mode < 3; mode++) {
        octet_sampler_params sp = octet_sampler_default_params();
        sp.temp = mode == 0 ? 0.0f : 1.5f;
        sp.top_k = mode == 1 ? 3 : 0;
        sp.top_p = mode == 2 ? 0.9f : 1.0f;
        sp.min_p = 0.0f;
        sp.seed = 7;
        octet_sampler *s = NULL;
        CHECK(octet_sampler_new(&s, &sp, N, &err) == 0);
        CHECK(octet_sampler_set_grammar(s, g, v) == 0);
        for (int rep = 0; rep < 50; rep++) {
            octet_grammar_reset(g);
            int32_t t = octet_sampler_sample(s, logits);
            CHECKF(t == 1 || t == 12, "mode %d drew %d", mode, t);
            if (t == 1 || t == 12) {
                CHECK(octet_grammar_accept_token(g, v, t) == 0);
                int32_t u = octet_sampler_sample(s, logits);
                octet_grammar *c = octet_grammar_clone(g);
                CHECKF(octet_grammar_accept_token(c, v, u) == 0, "mode %d second draw %d refused", mode, u);
                octet_grammar_free(c);
            }
        }
        /* greedy among the allowed: "{\"" (0.12 x 10) beats "{" */
        if (mode == 0) {
            octet_grammar_reset(g);
            CHECK(octet_sampler_sample(s, logits) == 12);
        }
        octet_sampler_free(s);
    }
    /* the draw follows the constrained distribution: at temperature 1 without truncation the allowed tokens 1
     * and 12 (logits 0.1 and 1.2) come with probabilities e^0.1 / (e^0.1 + e^1.2) = 0.250 and 0.750 */
    {
        octet_sampler_params sp = octet_sampler_default_params();
        sp.temp = 1.0f;
        sp.top_k = 0;
        sp.top_p = 1.0f;
        sp.min_p = 0.0f;
        sp.seed = 11;
        octet_sampler *s = NULL;
        CHECK(octet_sampler_new(&s, &sp, N, &err) == 0);
        CHECK(octet_sampler_set_grammar(s, g, v) == 0);
        octet_grammar_reset(g);
        int n12 = 0, other = 0;
        for (int rep = 0; rep < 4000; rep++) {
            int32_t t = octet_sampler_sample(s, logits);
            n12 += t == 12;
            other += t != 12 && t != 1;
        }
        CHECKF(other == 0 && n12 > 2860 && n12 < 3140, "token 12 drawn %d of 4000 times (want about 3000), %d "
               "refused tokens", n12, other);
        octet_sampler_free(s);
    }
    /* a vocabulary of another size is refused, not ignored */
    octet_sampler *s2 = NULL;
    CHECK(octet_sampler_new(&s2, NULL, N + 1, &err) == 0);
    CHECK(octet_sampler_set_grammar(s2, g, v) == OCTET_EINVAL);
    octet_sampler_free(s2);
    octet_grammar_free(g);
    octet_grammar_vocab_free(v);
}

/* ---- JSON Schema -------------------------------------------------------------------------------------- */
static int schema_match(const char *schema, const char *doc) {
    char *gb = NULL;
    octet_error err;
    if (octet_json_schema_to_gbnf(schema, strlen(schema), &gb, NULL, &err)) {
        fprintf(stderr, "  schema error: %s\n", err.msg);
        return -1;
    }
    int r = match(gb, doc, strlen(doc));
    if (r < 0) fprintf(stderr, "%s\n", gb);
    free(gb);
    return r;
}
#define SY(s, d) CHECKF(schema_match(s, d) == 1, "schema %s should accept %s", s, d)
#define SN(s, d) CHECKF(schema_match(s, d) == 0, "schema %s should refuse %s", s, d)

static void schema_error(const char *schema, int code, const char *want) {
    char *gb = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    int rc = octet_json_schema_to_gbnf(schema, strlen(schema), &gb, NULL, &err);
    CHECKF(rc == code && strstr(err.msg, want), "schema %s: want %d \"%s\", got %d \"%s\"", schema, code, want, rc,
           err.msg);
    free(gb);
}

static void test_schema(void) {
    const char *person = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":5},"
                         "\"age\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
                         "\"minItems\":1,\"maxItems\":2}},\"required\":[\"name\",\"age\"],"
                         "\"additionalProperties\":false}";
    SY(person, "{\"name\":\"Ann\",\"age\":30}");
    SY(person, "{ \"name\": \"Ann\", \"age\": -3, \"tags\": [\"a\", \"b\"] }");
    SY(person, "{\"name\":\"\",\"age\":0,\"tags\":[\"x\"]}");
    SN(person, "{\"name\":\"Ann\"}");                           /* age required */
    SN(person, "{\"age\":3}");                                  /* name required */
    SN(person, "{\"name\":\"Annabel\",\"age\":3}");             /* maxLength 5 */
    SN(person, "{\"name\":\"Ann\",\"age\":3.5}");               /* integer */
    SN(person, "{\"name\":\"Ann\",\"age\":03}");                /* no leading zero */
    SN(person, "{\"name\":\"Ann\",\"age\":3,\"tags\":[]}");     /* minItems 1 */
    SN(person, "{\"name\":\"Ann\",\"age\":3,\"tags\":[\"a\",\"b\",\"c\"]}"); /* maxItems 2 */
    SN(person, "{\"name\":\"Ann\",\"age\":3,\"x\":1}");         /* additionalProperties false */
    SN(person, "{\"name\":\"Ann\",\"age\":3,}");
    SN(person, "{\"name\":\"Ann\",\"age\":3");
    /* optional properties in any subset */
    const char *opt = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\"},\"b\":{\"type\":\"null\"},"
                      "\"c\":{\"type\":\"number\"}}}";
    SY(opt, "{}");
    SY(opt, "{\"b\":null}");
    SY(opt, "{\"a\":true,\"c\":1.5e3}");
    SY(opt, "{\"a\":false,\"b\":null,\"c\":-0.25}");
    SN(opt, "{\"a\":1}");
    SN(opt, "{,\"b\":null}");
    SN(opt, "{\"a\":true,}");
    /* strings: escapes, lengths count characters */
    const char *str = "{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}";
    SY(str, "\"ab\"");
    SY(str, "\"a\\n\\u00e9\"");
    SY(str, "\"\xc3\xa9\xc3\xa9\"");
    SN(str, "\"a\"");
    SN(str, "\"abcd\"");
    SN(str, "\"a\nb\""); /* raw control character */
    SN(str, "\"a\\qb\"");
    /* enum, const, anyOf, oneOf, type lists */
    const char *en = "{\"enum\":[\"red\",\"green\",1,null,{\"k\":[true]}]}";
    SY(en, "\"red\"");
    SY(en, "1");
    SY(en, "null");
    SY(en, "{\"k\":[true]}");
    SN(en, "\"blue\"");
    SN(en, "2");
    SY("{\"const\":\"x\\\"y\"}", "\"x\\\"y\"");
    SN("{\"const\":\"x\"}", "\"y\"");
    const char *any = "{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\",\"maxLength\":1}]}";
    SY(any, "42");
    SY(any, "\"z\"");
    SN(any, "\"zz\"");
    SN(any, "true");
    SY("{\"oneOf\":[{\"type\":\"null\"},{\"type\":\"boolean\"}]}", "false");
    SY("{\"type\":[\"string\",\"null\"]}", "null");
    SN("{\"type\":[\"string\",\"null\"]}", "0");
    /* $ref within the document, recursive */
    const char *tree = "{\"$ref\":\"#/$defs/node\",\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{"
                       "\"v\":{\"type\":\"integer\"},\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},"
                       "\"required\":[\"v\"]}}}";
    SY(tree, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[]}]}");
    SN(tree, "{\"v\":1,\"kids\":[{\"w\":2}]}");
    SY("{\"definitions\":{\"a\":{\"type\":\"boolean\"}},\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/a\"}}",
       "[true,false]");
    /* formats */
    SY("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-02-28\"");
    SN("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-13-01\"");
    SY("{\"type\":\"string\",\"format\":\"date-time\"}", "\"2024-02-28T13:45:00Z\"");
    SY("{\"type\":\"string\",\"format\":\"time\"}", "\"23:59:59.5+01:00\"");
    SN("{\"type\":\"string\",\"format\":\"time\"}", "\"24:00:00\"");
    SY("{\"type\":\"string\",\"format\":\"uuid\"}", "\"123e4567-e89b-12d3-a456-426614174000\"");
    SN("{\"type\":\"string\",\"format\":\"uuid\"}", "\"123e4567-e89b-12d3-a456-42661417400\"");
    /* arrays without bounds, any value, json_object mode */
    SY("{\"type\":\"array\"}", "[1, \"a\", {\"b\": [null]}, []]");
    SY("{}", "[1]");
    SY("{\"type\":\"object\"}", "{\"a\": {\"b\": [1, 2.5e-3, \"\\u00e9\"]}, \"c\": false}");
    SN("{\"type\":\"object\"}", "[1]");
    SN("{\"type\":\"object\"}", "{\"a\" 1}");
    SY("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}", "{\"x\":1,\"y\":2}");
    SN("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}", "{\"x\":\"1\"}");
    SY("{\"type\":\"object\",\"additionalProperties\":false}", "{}");
    SN("{\"type\":\"object\",\"additionalProperties\":false}", "{\"a\":1}");
    /* unsupported keywords are errors naming them, never ignored; annotations are ignored */
    schema_error("{\"type\":\"string\",\"pattern\":\"^a\"}", OCTET_EUNSUPPORTED, "'pattern' at #");
    schema_error("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":3}}}",
                 OCTET_EUNSUPPORTED, "'minimum' at #/properties/n");
    schema_error("{\"type\":\"string\",\"format\":\"email\"}", OCTET_EUNSUPPORTED, "\"email\"");
    schema_error("{\"type\":\"array\",\"uniqueItems\":true}", OCTET_EUNSUPPORTED, "'uniqueItems'");
    schema_error("{\"not\":{}}", OCTET_EUNSUPPORTED, "'not'");
    schema_error("{\"$ref\":\"http://example.com/s.json\"}", OCTET_EUNSUPPORTED, "$ref");
    schema_error("{\"$ref\":\"#/$defs/missing\"}", OCTET_EUNSUPPORTED, "$ref");
    schema_error("{\"allOf\":[{},{}]}", OCTET_EUNSUPPORTED, "allOf");
    schema_error("{\"type\":\"strin\"}", OCTET_EINVAL, "unknown type");
    schema_error("{\"type\":", OCTET_EFORMAT, "");
    SY("{\"title\":\"T\",\"description\":\"d\",\"type\":\"boolean\",\"default\":true,\"examples\":[true]}", "true");
}

int main(void) {
    test_constructs();
    test_errors();
    test_mask();
    test_schema();
    TEST_MAIN_END();
}

/*
 * test_jinja.c - the chat-template engine (src/text/jinja.c) and octet_chat_template_apply.
 *
 * 1. Real templates: every tests/data/templates/NAME.jinja with every conversation in conversations/, rendered
 *    through octet_chat_template_apply, must equal expected/NAME__CONV.txt byte for byte (made by Python's Jinja2 3.1 set
 *    up as transformers does: tests/tools/render_templates.py), or fail where the reference failed (.error).
 * 2. One case per construct (literals and their str(), arithmetic, filters, tests, string and dict methods,
 *    slicing, loops and loop.*, scoping, namespace, macros and call blocks, whitespace control): the expected
 *    strings were written from Jinja2's and CPython's semantics and checked against Jinja2 3.1.2.
 * 3. Errors: each names the template line; raise_exception's message comes through; limits (output, loop
 *    iterations, nesting, macro recursion) stop hostile templates with an error instead of a crash.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "format/json.h"
#include "test.h"
#include "text/jinja.h"

typedef struct jcase {
    const char *tmpl, *expect;
} jcase;

static const char *VARS =
    "{\"messages\": [{\"role\": \"system\", \"content\": \" sys \"}, {\"role\": \"user\", \"content\": \"h\\u00e9llo\\u00a0\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nr\\n</think>\\n\\nans\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": {\"a\": 1, \"b\": [true, null, 2.5]}}}]}], \"tools\": [{\"name\": \"t1\", \"x\": 3}, {\"name\": \"t2\"}], \"n\": 7, \"f\": 2.5, \"s\": \"Hello World\", \"e\": \"\", \"d\": {\"b\": 2, \"a\": 1, \"C\": 3}, \"l\": [3, 1, 2], \"z\": null, \"big\": 1e+300, \"neg\": -7, \"u\": \"\\u00fcn\\u00ef\", \"strs\": [\"b\", \"A\", \"c\", \"a\"]}";

static const jcase CASES[] = {
    {"{% for i in range(2) %}{{ loop }}{% endfor %}", "<LoopContext 1/2><LoopContext 2/2>"},
    {"{{ n }}|{{ f }}|{{ z }}|{{ true }}|{{ none }}|{{ 1.0 }}|{{ 100000000000000000.0 }}|{{ 0.00001 }}|{{ 0.0001 }}|{{ 1e22 }}|{{ -0.0 }}|{{ big }}|{{ 3.14159 }}",
     "7|2.5|None|True|None|1.0|1e+17|1e-05|0.0001|1e+22|-0.0|1e+300|3.14159"},
    {"{{ n / 2 }}|{{ n // 2 }}|{{ n % 3 }}|{{ neg // 2 }}|{{ neg % 3 }}|{{ 2 ** 3 }}|{{ 2 ** -1 }}|{{ 7.5 // 2 }}|{{ -7.5 % 2 }}|{{ n * 1.5 }}|{{ \"ab\" * 3 }}|{{ [1] * 2 }}",
     "3.5|3|1|-4|2|8|0.5|3.0|0.5|10.5|ababab|[1, 1]"},
    {"{{ l }}|{{ d }}|{{ messages[2].tool_calls }}|{{ (1, 2) }}|{{ (1,) }}|{{ \"it's\" }}|{{ [\"it's\", 'say \"hi\"', 'both \\' \"'] }}|{{ [\"a\\nb\\t\\u00a0\303\251\\u200b\"] }}",
     "[3, 1, 2]|{'b': 2, 'a': 1, 'C': 3}|[{'function': {'name': 'f', 'arguments': {'a': 1, 'b': [True, None, 2.5]}}}]|(1, 2)|(1,)|it's|[\"it's\", 'say \"hi\"', 'both \\' \"']|['a\\nb\\t\\xa0\303\251\\u200b']"},
    {"{{ s|lower }}|{{ s|upper }}|{{ s|title }}|{{ \"hello-world foo(bar)\"|title }}|{{ \"hELLO wORLD\"|capitalize }}|{{ \"  x  \"|trim }}|{{ \"xxaxx\"|trim(\"x\") }}|{{ s|replace(\"o\", \"0\") }}|{{ s|replace(\"o\", \"0\", 1) }}|{{ s|length }}|{{ u|length }}|{{ u|reverse }}",
     "hello world|HELLO WORLD|Hello World|Hello-World Foo(Bar)|Hello world|x|a|Hell0 W0rld|Hell0 World|11|3|\303\257n\303\274"},
    {"{{ l|sort }}|{{ l|sort(reverse=true) }}|{{ strs|sort }}|{{ strs|sort(case_sensitive=true) }}|{{ strs|unique|list }}|{{ l|first }}|{{ l|last }}|{{ l|join(\"-\") }}|{{ l|sum }}|{{ l|min }}|{{ l|max }}|{{ strs|max }}",
     "[1, 2, 3]|[3, 2, 1]|['A', 'a', 'b', 'c']|['A', 'a', 'b', 'c']|['b', 'A', 'c']|3|2|3-1-2|6|1|3|c"},
    {"{{ d|dictsort }}|{{ d|dictsort(by=\"value\", reverse=true) }}|{{ d|items|list }}|{{ d.items()|list }}|{{ d.keys()|list }}|{{ d.values()|list }}|{{ d.get(\"a\") }}|{{ d.get(\"q\") }}|{{ d.get(\"q\", 5) }}|{{ d[\"b\"] }}",
     "[('a', 1), ('b', 2), ('C', 3)]|[('C', 3), ('b', 2), ('a', 1)]|[('b', 2), ('a', 1), ('C', 3)]|[('b', 2), ('a', 1), ('C', 3)]|['b', 'a', 'C']|[2, 1, 3]|1|None|5|2"},
    {"{{ tools|map(attribute=\"name\")|list }}|{{ tools|selectattr(\"x\")|list }}|{{ tools|rejectattr(\"x\")|list }}|{{ tools|selectattr(\"name\", \"equalto\", \"t2\")|list }}|{{ l|select(\"odd\")|list }}|{{ l|reject(\"odd\")|list }}|{{ l|map(\"string\")|join }}|{{ messages|map(attribute=\"role\")|join(\", \") }}",
     "['t1', 't2']|[{'name': 't1', 'x': 3}]|[{'name': 't2'}]|[{'name': 't2'}]|[3, 1]|[2]|312|system, user, assistant"},
    {"{{ messages[0]|tojson }}|{{ messages[2].tool_calls[0].function.arguments|tojson }}|{{ d|tojson(sort_keys=true) }}|{{ d|tojson(indent=2) }}|{{ l|tojson(indent=0) }}|{{ u|tojson }}|{{ u|tojson(ensure_ascii=true) }}|{{ \"a\\\"b\\\\c\\n\\u0001\"|tojson }}|{{ [1.0, 2.5e-7, 1e16]|tojson }}|{{ {\"k\": none, \"t\": true}|tojson(separators=(\",\", \":\")) }}",
     "{\"role\": \"system\", \"content\": \" sys \"}|{\"a\": 1, \"b\": [true, null, 2.5]}|{\"C\": 3, \"a\": 1, \"b\": 2}|{\n  \"b\": 2,\n  \"a\": 1,\n  \"C\": 3\n}|[\n3,\n1,\n2\n]|\"\303\274n\303\257\"|\"\\u00fcn\\u00ef\"|\"a\\\"b\\\\c\\n\\u0001\"|[1.0, 2.5e-07, 1e+16]|{\"k\":null,\"t\":true}"},
    {"{{ x is defined }}|{{ n is defined }}|{{ z is none }}|{{ n is number }}|{{ f is float }}|{{ n is integer }}|{{ true is number }}|{{ true is integer }}|{{ s is string }}|{{ d is mapping }}|{{ l is iterable }}|{{ s is iterable }}|{{ x is iterable }}|{{ n is odd }}|{{ n is even }}|{{ n is divisibleby 7 }}|{{ n is equalto 7 }}|{{ 2 is in l }}|{{ true is true }}|{{ 1 is true }}|{{ false is boolean }}|{{ \"abc\" is lower }}|{{ x is undefined }}|{{ n is not none }}",
     "False|True|True|True|True|True|True|False|True|True|True|True|True|True|False|True|True|True|True|False|True|True|True|True"},
    {"{{ s.lower() }}|{{ s.upper() }}|{{ s.startswith(\"He\") }}|{{ s.endswith((\"x\", \"ld\")) }}|{{ \" a b  c \".split() }}|{{ \"a,b,,c\".split(\",\") }}|{{ \"a,b,c\".split(\",\", 1) }}|{{ \"a,b,c\".rsplit(\",\", 1) }}|{{ \"  x \".strip() }}|{{ \"\\u3000x\\u3000\".strip() }}|{{ \"xyx\".lstrip(\"x\") }}|{{ \"xyx\".rstrip(\"x\") }}|{{ s.replace(\"l\", \"L\") }}|{{ s.title() }}|{{ \"hello world\".capitalize() }}|{{ s.find(\"o\") }}|{{ s.count(\"l\") }}|{{ \"-\".join([\"a\", \"b\"]) }}|{{ \"a\\nb\\r\\nc\".splitlines() }}",
     "hello world|HELLO WORLD|True|True|['a', 'b', 'c']|['a', 'b', '', 'c']|['a', 'b,c']|['a,b', 'c']|x|x|yx|xy|HeLLo WorLd|Hello World|Hello world|4|3|a-b|['a', 'b', 'c']"},
    {"{{ s[0] }}|{{ s[-1] }}|{{ s[1:3] }}|{{ s[::-1] }}|{{ s[::2] }}|{{ l[1:] }}|{{ l[:-1] }}|{{ l[::-1] }}|{{ l[5] }}|{{ l[-10:10] }}|{{ u[1] }}|{{ u[1:] }}|{{ messages[-1].role }}|{{ messages[1:]|length }}",
     "H|d|el|dlroW olleH|HloWrd|[1, 2]|[3, 1]|[2, 1, 3]||[3, 1, 2]|n|n\303\257|assistant|2"},
    {"{{ \"a\" ~ 1 ~ none ~ x ~ 2.0 }}|{{ \"a\" + \"b\" }}|{{ 1 + 2.0 }}|{{ 1 == 1.0 }}|{{ \"a\" < \"b\" }}|{{ [1, 2] < [1, 3] }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ \"a\" in \"cat\" }}|{{ \"q\" not in d }}|{{ \"a\" in d }}|{{ 1 in l }}|{{ not n }}|{{ n and s }}|{{ z or \"dflt\" }}|{{ e or z }}|{{ \"y\" if n > 3 else \"n\" }}|{{ \"y\" if n > 30 }}|{{ -n }}|{{ -f|abs }}",
     "a1None2.0|ab|3.0|True|True|True|True|False|True|True|True|True|False|Hello World|dflt|None|y||-7|2.5"},
    {"{{ x|default(\"D\") }}|{{ e|default(\"D\") }}|{{ e|default(\"D\", true) }}|{{ x|d(\"X\") }}|{{ n|string }}|{{ \"42\"|int }}|{{ \" 4.7 \"|int }}|{{ \"abc\"|int }}|{{ \"abc\"|int(-1) }}|{{ 4.7|int }}|{{ \"3.5\"|float }}|{{ \"x\"|float }}|{{ n|float }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.675|round(2) }}|{{ 2.1|round(0, \"ceil\") }}|{{ n|round }}|{{ \"ab\"|list }}|{{ d|list }}|{{ x|list }}|{{ x|length }}|{{ \"x\"|safe }}|{{ 5|safe }}",
     "D||D|X|7|42|4|0|-1|4|3.5|0.0|7.0|2.0|4.0|2.67|3.0|7|['a', 'b']|['b', 'a', 'C']|[]|0|x|5"},
    {"{{ \"a\\nb\\n\\nc\"|indent }}|{{ \"a\\nb\"|indent(2, true) }}|{{ \"a\\n\\nb\"|indent(2, blank=true) }}|{{ \"a\\nb\"|indent(\">\") }}|{{ \"<a href='x'>&</a>\"|e }}|{{ \"one two  three\"|wordcount }}|{{ \"ab\"|center(6) }}|{{ l|batch(2)|list }}|{{ range(3)|list }}|{{ range(1, 10, 3)|list }}|{{ range(5, 0, -2)|list }}",
     "a\n    b\n\n    c|  a\n  b|a\n  \n  b|a\n>b|&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;|3|  ab  |[[3, 1], [2]]|[0, 1, 2]|[1, 4, 7]|[5, 3, 1]"},
    {"{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem.role if loop.previtem is defined }}|{{ loop.nextitem.role if loop.nextitem is defined }}]{{ loop.cycle(\"a\", \"b\") }}\n{% endfor %}",
     "1032TrueFalse3[|user]a\n2121FalseFalse3[system|assistant]b\n3210FalseTrue3[user|]a\n"},
    {"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}{% for c in u %}<{{ c }}>{% endfor %}{% for x in [] %}no{% else %}empty{% endfor %}{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
     "b=2;a=1;C=3;baC<\303\274><n><\303\257>empty0134"},
    {"{% for i in range(6) if i is even %}{{ i }}/{{ loop.length }} {% endfor %}{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %}{% set x = 5 %}{{ x }}{% for i in [1] %}{% set x = 9 %}{{ x }}{% endfor %}{{ x }}{% set a, b = 1, 2 %}{{ a }}{{ b }}",
     "0/3 2/3 4/3 3759512"},
    {"{% set ns = namespace(found=false, n=0) %}{% for m in messages %}{% if m.role == \"user\" %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.found }} {{ ns.n }} {% set blk %}  inner {{ n }}  {% endset %}[{{ blk }}]{% set t2 | trim %}  xx  {% endset %}[{{ t2 }}]",
     "True 3 [  inner 7  ][xx]"},
    {"{% macro greet(name, greeting=\"Hello\", punct=\"!\") %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet(\"A\") }} {{ greet(\"B\", \"Hi\") }} {{ greet(\"C\", punct=\"?\") }} {% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inside {{ n }}{% endcall %} {% macro w2(x) %}({{ caller(x * 2) }}){% endmacro %}{% call(v) w2(4) %}v={{ v }}{% endcall %}{% filter upper %}shout {{ s }}{% endfilter %}",
     "Hello, A! Hi, B! Hello, C? [inside 7] (v=8)SHOUT HELLO WORLD"},
    {"  {% if n > 5 %}\n    big\n  {% elif n > 2 %}\n    mid\n  {% else %}\n    small\n  {% endif %}\n    {%- if true %} A {% endif -%}\n   {{- \"  B  \" -}}\n   {%+ if true %}C{% endif %}\n  {# comment #}\n  {#- c2 -#}  D\n{% if true +%}\nE\n{% endif %}",
     "    big\n A   B  CD\n\nE\n"},
    {"{% raw %}{{ not rendered }}{% endraw %} {{ '{{' }} {{ \"%}\" }}",
     "{{ not rendered }} {{ %}"},
    {"{{ messages[2].content.split('</think>')[-1].lstrip('\\n') }}|{{ messages[2].content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}|{{ messages|selectattr(\"tool_calls\", \"defined\")|list|length }}|{{ messages|rejectattr(\"role\", \"in\", [\"system\", \"user\"])|map(attribute=\"role\")|list }}",
     "ans|r|1|['assistant']"},
    {"{{ \"%s\" }}|{{ 'single \\'q\\'' }}|{{ \"tab\\tnl\\\\n\" }}|{{ \"\\x41\\u00e9\\U0001F600\" }}|{{ \"a\" \"b\" }}|{{ 1_000 }}|{{ 0.5e1 }}|{{ [1, 2,] }}|{{ {\"a\": 1,} }}|{{ n if n }}|{{ (n) }}|{{ ((1)) }}",
     "%s|single 'q'|tab\tnl\\n|A\303\251\360\237\230\200|ab|1000|5.0|[1, 2]|{'a': 1}|7|7|1"},
    {"{{ d.b }}|{{ d.zz }}|{{ messages.0.role }}|{{ d[\"items\"] is defined }}|{{ messages[0][\"role\"] }}|{{ s is sameas s }}|{{ z is sameas none }}|{{ l|count }}|{{ \"abc\"|first }}|{{ \"abc\"|last }}|{{ l|reverse|list }}|{{ l + [4] }}|{{ (1, 2) + (3,) }}|{{ \"%d\"|length }}",
     "2||system|True|system|True|True|3|a|c|[2, 1, 3]|[3, 1, 2, 4]|(1, 2, 3)|2"},
    {"{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }},{% endfor %}{{ x }}",
     "12,12,12,1"},
    {"{% for i in range(3) %}{% if i > 0 %}[{{ y }}]{% endif %}{% set y = i %}{% endfor %}",
     "[][]"},
    {"{% macro m() %}{{ late }}{{ n }}{% endmacro %}{% set late = 3 %}{{ m() }}",
     "37"},
    {"{% if true %}{% set q = 1 %}{% endif %}{{ q }}",
     "1"},
    {"{% macro rec(k) %}{{ k }}{% if k > 0 %}{{ rec(k - 1) }}{% endif %}{% endmacro %}{{ rec(3) }}",
     "3210"},
    {"{% set ns = namespace(v=[]) %}{% for i in range(3) %}{% set ns.v = ns.v + [i] %}{% endfor %}{{ ns.v }}",
     "[0, 1, 2]"},
    {"{{ ns }}|{{ namespace(a=1) }}|{{ loop }}",
     "|<Namespace {'a': 1}>|"},
    {"{{ messages[1].content|trim }}|{{ messages[1].content|trim|length }}|{{ \"\\u0085x\\u0085\"|trim }}|{{ \"\\u200bx\"|trim }}|{{ \"\\x1cx\\x1f\"|trim }}",
     "h\303\251llo|5|x|\342\200\213x|x"},
    {"{{ 10 / 4 }}|{{ 10 / 5 }}|{{ 2 ** 0.5 }}|{{ 1 / 3 }}|{{ 2 / 3 * 3 }}|{{ 1e-7 }}|{{ 123456789012345678 }}|{{ 1.5e-10 * 2 }}|{{ 0.1 * 3 }}|{{ 9007199254740993 / 1 }}",
     "2.5|2.0|1.4142135623730951|0.3333333333333333|2.0|1e-07|123456789012345678|3e-10|0.30000000000000004|9007199254740992.0"},
    {"{{ l|map(attribute=\"zz\")|list }}|{{ tools|map(attribute=\"x\", default=0)|list }}",
     "[Undefined, Undefined, Undefined]|[3, 0]"},
    {"{%- for m in messages -%}\n  {%- if m.role == 'user' -%}\n    U:{{ m.content }}\n  {%- else -%}\n    {{ m.role }}\n  {%- endif %}\n{% endfor -%}\nEND",
     "systemU:h\303\251llo\302\240assistantEND"},
    {"  {% for i in range(2) %}\n  <{{ i }}>\n  {% endfor %}\nx  {% if true %}y{% endif %}\n   {# c #}\nz",
     "  <0>\n  <1>\nx  yz"},
    {"{{ messages|length is odd }}|{{ -2 ** 2 }}|{{ not true == false }}|{{ 1 + 2 * 3 - 4 / 2 }}|{{ \"a\" ~ 2 * 3 }}|{{ 2 * 3 ~ 4 }}|{{ [1,2,3]|length > 2 and true }}|{{ 5 if false else 6 if true else 7 }}",
     "True|4|True|5.0|a6|64|True|6"},
};

typedef struct ecase {
    const char *tmpl, *msg; /* msg: a substring the error message must contain */
    int code;
} ecase;

static const ecase ERRS[] = {
    {"{% for x in none %}{% endfor %}", "'NoneType' object is not iterable", OCTET_EFORMAT},
    {"{{ l.append(4) }}", "unsafe", OCTET_EFORMAT},
    {"{{ x.y }}", "'x' is undefined", OCTET_EFORMAT},
    {"{{ x + 1 }}", "'x' is undefined", OCTET_EFORMAT},
    {"{{ undefined_fn() }}", "'undefined_fn' is undefined", OCTET_EFORMAT},
    {"{{ d.zz.yy }}", "'zz' is undefined", OCTET_EFORMAT},
    {"{{ 1 / 0 }}", "division by zero", OCTET_EFORMAT},
    {"{{ \"a\" + 1 }}", "unsupported operand", OCTET_EFORMAT},
    {"a\nb\n{{ raise_exception('Conversation roles must alternate') }}", "line 3: raise_exception: Conversation roles must alternate", OCTET_EFORMAT},
    {"line1\n{% if x %}\n{% for %}", "line 3: syntax error", OCTET_EFORMAT},
    {"{% if true %}never closed", "line 1: syntax error: block opened here is never closed (expected 'elif')", OCTET_EFORMAT},
    {"{% endif %}", "unexpected 'endif'", OCTET_EFORMAT},
    {"{{ 1 + }}", "syntax error", OCTET_EFORMAT},
    {"{{ 'unterminated }}", "unterminated string", OCTET_EFORMAT},
    {"\n\n{{ x|nosuchfilter }}", "line 3: no filter named 'nosuchfilter'", OCTET_EFORMAT},
    {"{% if x is nosuchtest %}{% endif %}", "no test named 'nosuchtest'", OCTET_EFORMAT},
    {"{% set ns = 3 %}{% set ns.a = 1 %}", "non-namespace", OCTET_EFORMAT},
    {"{% set a, b = [1] %}", "cannot unpack", OCTET_EFORMAT},
    {"{{ 9223372036854775807 + 1 }}", "integer overflow", OCTET_ERANGE},
    {"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "more than", OCTET_ERANGE},
    {"{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "nested deeper", OCTET_ERANGE},
    {"{% for i in range(20000000) %}{% endfor %}", "loop iterations", OCTET_ERANGE},
    {"{% for i in range(200000) %}0123456789{% endfor %}", "output longer", OCTET_ERANGE},
    {"{{ 'x' * 100000000 }}", "longer than", OCTET_ERANGE},
    {"{% raw %}open", "endraw", OCTET_EFORMAT},
    {"{# open comment", "'#}'", OCTET_EFORMAT},
    {"{{ 1 }", "missing '}}'", OCTET_EFORMAT},
    {"{% recursive %}", "unknown statement", OCTET_EFORMAT},
    {"{% for i in [1] %}{% set loop.x = 1 %}{% endfor %}", "non-namespace", OCTET_EFORMAT},
    {"{{ \"%s\" % 1 }}", "unsupported operand", OCTET_EFORMAT},
};

static char *render(const char *tmpl, const char *vars, const octet__jinja_opts *o, int *rc, octet_error *err) {
    json_t *v = NULL;
    memset(err, 0, sizeof *err);
    if (vars && octet__json_parse(&v, vars, strlen(vars), 1 << 20, "vars", err)) {
        *rc = -100;
        return NULL;
    }
    char *out = NULL;
    size_t n = 0;
    *rc = octet__jinja_render(tmpl, strlen(tmpl), v, o, &out, &n, err);
    if (v) json_decref(v);
    if (!*rc && strlen(out) != n) *rc = -101;
    return out;
}

static void test_cases(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        int rc;
        octet_error err;
        char *out = render(CASES[i].tmpl, VARS, NULL, &rc, &err);
        CHECKF(rc == 0, "case %zu: error %d: %s", i, rc, err.msg);
        if (!rc) CHECKF(strcmp(out, CASES[i].expect) == 0, "case %zu:\n  template %s\n  got      [%s]\n  expected [%s]", i,
                        CASES[i].tmpl, out, CASES[i].expect);
        octet__free(out);
    }
}

static void test_errors(void) {
    octet__jinja_opts o = {0};
    o.max_output = 1 << 20;
    o.max_steps = 1000000;
    for (size_t i = 0; i < sizeof ERRS / sizeof ERRS[0]; i++) {
        int rc;
        octet_error err;
        char *out = render(ERRS[i].tmpl, VARS, &o, &rc, &err);
        CHECKF(rc == ERRS[i].code, "error case %zu (%s): rc %d, expected %d (%s)", i, ERRS[i].tmpl, rc, ERRS[i].code,
               err.msg);
        CHECKF(out == NULL, "error case %zu: output despite the error", i);
        CHECKF(strstr(err.msg, ERRS[i].msg) != NULL, "error case %zu: message [%s] lacks [%s]", i, err.msg, ERRS[i].msg);
        octet__free(out);
    }
    /* deep nesting in the parser: an error, not a stack overflow */
    size_t n = 100000;
    char *deep = malloc(2 * n + 8);
    memcpy(deep, "{{ ", 3);
    for (size_t i = 0; i < n; i++) deep[3 + i] = '(';
    deep[3 + n] = '1';
    for (size_t i = 0; i < n; i++) deep[4 + n + i] = ')';
    strcpy(deep + 4 + 2 * n, "}}");
    int rc;
    octet_error err;
    char *out = render(deep, NULL, NULL, &rc, &err);
    CHECKF(rc == OCTET_EFORMAT && strstr(err.msg, "nested too deeply"), "deep nesting: rc %d %s", rc, err.msg);
    octet__free(out);
    memset(deep, 0, 2 * n + 8);
    for (size_t i = 0; i < n / 20; i++) memcpy(deep + 12 * i, "{% if 1 %}  ", 12);
    out = render(deep, NULL, NULL, &rc, &err);
    CHECKF(rc == OCTET_EFORMAT && strstr(err.msg, "nested too deeply"), "deep statements: rc %d %s", rc, err.msg);
    octet__free(out);
    free(deep);
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long k = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)k + 1);
    *n = fread(b, 1, (size_t)k, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* the string value of key in a tokens.json file, or NULL */
static char *token_of(const char *json, const char *key) {
    json_t *v = NULL;
    octet_error err;
    if (!json || octet__json_parse(&v, json, strlen(json), 1 << 20, "tokens", &err)) return NULL;
    const char *s = json_string_value(json_object_get(v, key));
    char *r = s ? strdup(s) : NULL;
    json_decref(v);
    return r;
}

static void test_real_templates(void) {
    const char *dir = "tests/data/templates";
    DIR *d = opendir(dir);
    CHECKF(d != NULL, "cannot open %s (run from the repository root)", dir);
    if (!d) return;
    int n_pairs = 0, n_refused = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!ends_with(e->d_name, ".jinja")) continue;
        char base[256], path[600];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(e->d_name) - 6), e->d_name);
        size_t tn, kn;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *tmpl = slurp(path, &tn);
        snprintf(path, sizeof path, "%s/%s.tokens.json", dir, base);
        char *toks = slurp(path, &kn);
        char *bos = token_of(toks, "bos_token"), *eos = token_of(toks, "eos_token");
        snprintf(path, sizeof path, "%s/conversations", dir);
        DIR *cd = opendir(path);
        struct dirent *ce;
        while (cd && (ce = readdir(cd))) {
            if (!ends_with(ce->d_name, ".json")) continue;
            char conv[256];
            snprintf(conv, sizeof conv, "%.*s", (int)(strlen(ce->d_name) - 5), ce->d_name);
            size_t bn, xn;
            snprintf(path, sizeof path, "%s/conversations/%s", dir, ce->d_name);
            char *body = slurp(path, &bn);
            snprintf(path, sizeof path, "%s/expected/%s__%s.txt", dir, base, conv);
            char *expect = slurp(path, &xn);
            char *out = NULL;
            size_t on = 0;
            octet_error err;
            memset(&err, 0, sizeof err);
            int rc = octet_chat_template_apply(tmpl, tn, body, bn, bos, eos, 1, &out, &on, &err);
            if (expect) {
                CHECKF(rc == 0, "%s with %s: error %s", base, conv, err.msg);
                if (!rc)
                    CHECKF(on == xn && memcmp(out, expect, xn) == 0, "%s with %s: rendering differs from %s\n--- got:\n%s\n---", base,
                           conv, path, out);
            } else {
                n_refused++;
                CHECKF(rc == OCTET_EFORMAT && err.msg[0], "%s with %s: the reference refused it, octet gave rc %d", base, conv, rc);
            }
            n_pairs++;
            octet_chat_template_free(out);
            free(body);
            free(expect);
        }
        if (cd) closedir(cd);
        free(tmpl);
        free(toks);
        free(bos);
        free(eos);
    }
    closedir(d);
    CHECKF(n_pairs >= 56, "only %d template/conversation pairs found", n_pairs);
    printf("real templates: %d pairs (%d refused by the reference and by octet)\n", n_pairs, n_refused);
}

/* octet_chat_template_apply: variables and their precedence */
static void test_apply_vars(void) {
    const char *t = "{{ bos_token }}|{{ eos_token }}|{{ tools }}|{{ add_generation_prompt }}|{{ enable_thinking }}|{{ model }}";
    const char *body = "{\"messages\": [], \"model\": \"m\", \"enable_thinking\": true, "
                       "\"chat_template_kwargs\": {\"enable_thinking\": false, \"eos_token\": \"E2\"}}";
    char *out = NULL;
    octet_error err;
    int rc = octet_chat_template_apply(t, strlen(t), body, strlen(body), "<s>", "</s>", 1, &out, NULL, &err);
    CHECKF(rc == 0 && strcmp(out, "<s>|E2|None|True|False|m") == 0, "apply vars: %d %s", rc, rc ? err.msg : out);
    octet_chat_template_free(out);
    rc = octet_chat_template_apply(t, strlen(t), "[1]", 3, NULL, NULL, 0, &out, NULL, &err);
    CHECKF(rc == OCTET_EFORMAT && out == NULL, "apply: body not an object: rc %d", rc);
    rc = octet_chat_template_apply(t, strlen(t), "{", 1, NULL, NULL, 0, &out, NULL, &err);
    CHECKF(rc == OCTET_EFORMAT && out == NULL, "apply: bad JSON: rc %d", rc);
    rc = octet_chat_template_apply(t, strlen(t), NULL, 0, NULL, NULL, 0, &out, NULL, &err);
    CHECKF(rc == 0 && strcmp(out, "||None|False||") == 0, "apply without body: %d %s", rc, rc ? err.msg : out);
    octet_chat_template_free(out);
}

/* strftime_now with a fixed clock; newline normalisation of the source */
static void test_misc(void) {
    octet__jinja_opts o = {0};
    o.now = 86400 * 365;
    int rc;
    octet_error err;
    char *out = render("{{ strftime_now('%Y') }}", NULL, &o, &rc, &err);
    CHECKF(rc == 0 && (strcmp(out, "1971") == 0 || strcmp(out, "1970") == 0), "strftime_now: %s", rc ? err.msg : out);
    octet__free(out);
    out = render("a\r\nb\rc\n\n", NULL, NULL, &rc, &err);
    CHECKF(rc == 0 && strcmp(out, "a\nb\nc\n") == 0, "newlines: [%s]", rc ? err.msg : out);
    octet__free(out);
    out = render("", NULL, NULL, &rc, &err);
    CHECKF(rc == 0 && strcmp(out, "") == 0, "empty template");
    octet__free(out);
    /* a NUL byte in the source is text like any other */
    char *o2 = NULL;
    size_t n = 0;
    rc = octet__jinja_render("a\0b{{ 1 }}", 10, NULL, NULL, &o2, &n, &err);
    CHECKF(rc == 0 && n == 4 && memcmp(o2, "a\0b1", 4) == 0, "NUL in the source: rc %d n %zu", rc, n);
    octet__free(o2);
}

int main(void) {
    test_cases();
    test_errors();
    test_real_templates();
    test_apply_vars();
    test_misc();
    TEST_MAIN_END();
}

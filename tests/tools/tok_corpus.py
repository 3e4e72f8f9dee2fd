#!/usr/bin/python3
"""tok_corpus.py - a deterministic corpus of strings for comparing tokenizers, one JSON string per line.

Hand-picked cases (mixed scripts, combining marks in composed and decomposed forms, Hangul jamo, characters
added in Unicode 15, 16 and 17, emoji sequences with ZWJ / skin tones / flags / keycaps, whitespace runs of
every kind, digits in many scripts, code, special-token look-alikes, compatibility characters for NFKC) and
random strings drawn from the same pools (seeded). Usage: tok_corpus.py [N_RANDOM] [SEED] > corpus.jsonl
"""
import json
import random
import sys

POOLS = {
    "latin": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZàéîõüçñßøåæœÀÉÎÕÜÇÑ",
    "combining": "\u0300\u0301\u0302\u0303\u0308\u0327\u0323\u0331\u034f\u05b0\u093c\u302a\u3099",
    "greek_cyr": "αβγδεζηθικλμνξοπρσςτυφχψωΑΒΓΔΣΩабвгдежзийклмнопрстуфхцчшщъыьэюяЖЩЯё",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年日本語中文字漢字かなカナひらがなカタカナー",
    "hangul": "한국어안녕하세요\u1100\u1161\u11a8\u1112\u1175",
    "arabic_hebrew": "العربيةمرحباשלוםעברית\u064b\u0651",
    "indic": "हिन्दीनमस्तेதமிழ்বাংলাతెలుగుಕನ್ನಡ",
    "thai_etc": "ภาษาไทยສະບາຍດີမြန်မာខ្មែរ",
    "new_unicode": "\U0001FAE8\U0001FA87\U0001FA88\U0001FAAD\U0001FAAF\U0001FADB\U0001FAE9\U0001FA89\U0001FAC6"
                   "\U0001FADC\U0001FADF\U0001FAE9\U00011F00\U00011F04\U0001E4D0\U0001E4E5\U000105C0\U00016D40"
                   "\U0001E5D0\U00011BC0\U0001CC00\U0001FAEA\U0001FAEF\U00016EA0\U00011DB0\U0001E6C0\U000187F8",
    "emoji": ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "1️⃣", "❤️", "🧑🏿‍💻", "🫠", "🥲", "☺︎"],
    "space": [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u2009", "\u3000", "\u200b", " \n ", "\u2028",
              "\u0085", "\u000b", "\u000c"],
    "digits": "0123456789٠١٢٣٤٥٦٧٨٩०१२३४५६७८९０１２３４５６７８９",
    "punct": ".,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`…–—«»“”‘’·、。！？",
    "compat": "ﬁﬂ①②ⅢＡＢｃｄ㍿ｶﾞ²³½™℃ﾊﾟ",
    "specials": ["<s>", "</s>", "<unk>", "<|begin_of_text|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>",
                 "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<think>", "</think>", "<|endoftext|>",
                 "<pad>", "<mask>", "<|reserved_special_token_5|>", "<unused7>", "< s>", "<|im_start", "<0x41>",
                 "[INST]", "<<SYS>>"],
}

FIXED = [
    "Hello world", " Hello world", "Hello  world", "hello\nworld", "Hello,\tworld!\r\n", "",
    " ", "  ", "\n", "\t\t", "    leading spaces", "trailing spaces    ", "a\u00a0b", "x\u3000y",
    "café", "cafe\u0301", "Ångström", "A\u030angstro\u0308m", "e\u0301\u0302\u0323", "q\u0307\u0323",
    "\u1100\u1161\u11a8", "한국어", "\u1112\u1161\u11ab\u1100\u1173\u11af", "ﬁnal ﬂow", "①②③", "Ｈｅｌｌｏ",
    "I'm can't won't they'll we've you'd SHE'S", "don’t", "123 1234 12345 123456 1234567",
    "3.14159 2,718 1e10 0x1F -42", "٣٤٥ १२३ ３４５", "def f(x):\n    return x**2  # square\n",
    "if (a && b) { c = d->e; }", "<html><body>Hi</body></html>", "https://example.com/a?b=c&d=e#f",
    "😀😀😀", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇫🇷🇯🇵", "1️⃣2️⃣", "👍🏽👍🏿", "I ❤️ NY",
    "\U0001FAE8 shaking face (15.0)", "\U0001FA89 harp (16.0)", "\U0001FADC root vegetable (16.0)",
    "\U0001FAEA distorted face (17.0)", "Garay \U00010D40\U00010D41 (16.0)", "Kirat Rai \U00016D43\U00016D44",
    "Tulu-Tigalari \U00011380\U00011381", "Ol Onal \U0001E5D0\U0001E5D1", "Kawi \U00011F04\U00011F05 (15.0)",
    "Nag Mundari \U0001E4D0\U0001E4D1 (15.0)", "Sidetic \U00010940 (17.0)", "Tolong Siki \U00011DB0 (17.0)",
    "Привет, мир! Как дела?", "Γειά σου Κόσμε", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก",
    "你好，世界！", "こんにちは、世界。カタカナ", "ｶﾞｷﾞｸﾞ", "Ⅻ ℃ ™ ½ ²", "ΣΑΣ σας ΟΔΟΣ",
    "<s>[INST] hi [/INST]", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n<think>\nhmm\n</think>\n\nok<|im_end|>",
    "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", "<bos><eos><pad>", "a<s>b</s>c", "<unk>",
    "<0x41><0x0A>", "< s >", "<|im_start", "\u200b\u200c\u200d\ufeff", "\x00\x01\x1f\x7f", "\ud7ff\ue000\uffff",
    "\U0010fffd", "tab\tsep\tvalues\n1\t2\t3\n", "line1\r\nline2\rline3\n", "   \n\n   \n", "x" * 300,
    "ab" * 150, "😀" * 40, "é" * 50, "e\u0301" * 50, "Ω Ω Ω", "\u212b \u2126 \u00c5",
]


def rand_string(r):
    parts = []
    for _ in range(r.randint(1, 12)):
        pool = POOLS[r.choice(list(POOLS))]
        k = r.randint(1, 6)
        if isinstance(pool, list):
            parts.append("".join(r.choice(pool) for _ in range(min(k, 2))))
        else:
            parts.append("".join(r.choice(pool) for _ in range(k)))
        if r.random() < 0.5:
            parts.append(r.choice([" ", " ", " ", "  ", "\n", "\t", ""]))
    return "".join(parts)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    r = random.Random(seed)
    out = sys.stdout
    for s in FIXED + [rand_string(r) for _ in range(n)]:
        out.write(json.dumps(s, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()

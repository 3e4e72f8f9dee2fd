#!/usr/bin/python3
"""Train octet's bundled default model: a small Llama on the King James Bible.

Two stages, both reproducible (fixed seeds, deterministic data order):

  1. tokenizer: SentencePiece BPE on the training text (byte_fallback, add_dummy_prefix,
     ids 0=<unk> 1=<s> 2=</s> as in Llama), written to <out>/tokenizer.model.
  2. model: a Llama (RMSNorm, RoPE, grouped-query attention, SwiGLU, output tied to the token
     embedding) trained with AdamW and a warmup + cosine learning-rate schedule.  Checkpoints go
     to <out>/ckpt.pt every --ckpt-every seconds (atomic rename); rerunning the same command
     resumes from the checkpoint.  The batches of step s depend only on (--seed, s), so a resumed
     run sees the same data as an uninterrupted one.

RoPE layout: this model rotates ADJACENT pairs (x[2i], x[2i+1]) by pos * base^(-2i/head_dim), the
layout GGUF "llama" models use in llama.cpp, so the exporter writes q/k weights unpermuted.

Data layout: each line of the corpus (a chapter heading or a verse) is encoded on its own, with
the SentencePiece dummy prefix, and lines are joined by the byte token <0x0A> ("\\n").  Every
training sequence is <s> followed by seq_len-1 tokens starting at the beginning of a random line,
which is what an inference engine sees for a prompt such as "And God said".

Usage:  /usr/bin/python3 tools/train_model.py --train kjv-train.txt --out /work/train [options]
        /usr/bin/python3 tools/train_model.py --train kjv-train.txt --out /work/train --eval-only   (loss + samples)
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VALID = os.path.join(HERE, "..", "tests", "data", "kjv-valid.txt")


def log(msg):
    print(time.strftime("%H:%M:%S", time.gmtime()) + " " + msg, flush=True)


# ----------------------------------------------------------------------------- tokenizer

def train_tokenizer(train_path, prefix, vocab_size):
    import sentencepiece as spm
    spm.SentencePieceTrainer.train(
        input=train_path,
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        byte_fallback=True,
        split_by_whitespace=True,
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        max_sentence_length=8192,
        num_threads=1,
        minloglevel=2,
    )


def load_tokenizer(path):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor()
    sp.load(path)
    return sp


def encode_corpus(sp, path):
    """Token ids of the whole file (lines joined by <0x0A>) and the offsets where lines start."""
    nl = sp.piece_to_id("<0x0A>")
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    lines = [l for l in lines if l]
    enc = sp.encode(lines)
    ids, starts = [], []
    for e in enc:
        starts.append(len(ids))
        ids.extend(e)
        ids.append(nl)
    return np.array(ids, dtype=np.int64), np.array(starts, dtype=np.int64)


# ----------------------------------------------------------------------------- model

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, seq_len, base):
    # angle for pair i (elements 2i, 2i+1) at position p: p * base^(-2i/head_dim)
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(seq_len, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    # x: (B, H, T, hd); rotate adjacent pairs (x0, x1) -> (x0 c - x1 s, x0 s + x1 c)
    T = x.shape[2]
    c, s = cos[:T], sin[:T]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * c - x1 * s
    y1 = x0 * s + x1 * c
    return torch.stack((y0, y1), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, h, kv = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
        hd = d // h
        self.h, self.kv, self.hd = h, kv, hd
        self.attn_norm = RMSNorm(d, cfg["norm_eps"])
        self.wq = nn.Linear(d, h * hd, bias=False)
        self.wk = nn.Linear(d, kv * hd, bias=False)
        self.wv = nn.Linear(d, kv * hd, bias=False)
        self.wo = nn.Linear(h * hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, cfg["norm_eps"])
        self.w1 = nn.Linear(d, cfg["ffn_dim"], bias=False)  # gate
        self.w3 = nn.Linear(d, cfg["ffn_dim"], bias=False)  # up
        self.w2 = nn.Linear(cfg["ffn_dim"], d, bias=False)  # down

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        a = self.attn_norm(x)
        q = self.wq(a).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.wk(a).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.wv(a).view(B, T, self.kv, self.hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        rep = self.h // self.kv  # query head j uses kv head j // rep (as ggml broadcasts)
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, self.h * self.hd)
        x = x + self.wo(o)
        f = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(f)) * self.w3(f))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg["vocab_size"], cfg["dim"])
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg["n_layers"])])
        self.norm = RMSNorm(cfg["dim"], cfg["norm_eps"])
        cos, sin = rope_tables(cfg["dim"] // cfg["n_heads"], cfg["seq_len"], cfg["rope_base"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.triu(torch.ones(cfg["seq_len"], cfg["seq_len"], dtype=torch.bool), 1)
        self.register_buffer("mask", mask, persistent=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2 style scaled init of residual outputs
            if name.endswith("wo.weight") or name.endswith("w2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg["n_layers"]))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx):
        x = self.tok(idx)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin, self.mask)
        return F.linear(self.norm(x), self.tok.weight)  # output tied to the embedding


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------- training

def lr_at(step, a):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    t = min(1.0, (step - a.warmup) / max(1, a.steps - a.warmup))
    return a.min_lr + 0.5 * (a.lr - a.min_lr) * (1.0 + math.cos(math.pi * t))


def get_batch(ids, starts, step, a):
    g = torch.Generator().manual_seed(a.seed * 1_000_003 + step)
    usable = starts[starts + a.seq_len - 1 <= len(ids)]
    pick = torch.randint(0, len(usable), (a.batch,), generator=g).numpy()
    n = a.seq_len - 1
    rows = np.stack([ids[usable[i]:usable[i] + n] for i in pick])
    x = np.concatenate([np.ones((a.batch, 1), dtype=np.int64), rows], axis=1)  # <s> + tokens
    # targets: x shifted left; the last position predicts the token after the window
    nxt = np.array([ids[usable[i] + n] if usable[i] + n < len(ids) else -100 for i in pick])
    y = np.concatenate([x[:, 1:], nxt[:, None]], axis=1)
    return torch.from_numpy(x), torch.from_numpy(y)


@torch.no_grad()
def evaluate(model, ids, seq_len, max_windows=None):
    """Mean nats/token over consecutive windows of seq_len-1 tokens, each preceded by <s>."""
    model.eval()
    n = seq_len - 1
    tot, cnt = 0.0, 0
    nwin = (len(ids) - 1) // n + 1
    if max_windows:
        nwin = min(nwin, max_windows)
    for w0 in range(0, nwin, 8):
        xs, ys = [], []
        for w in range(w0, min(nwin, w0 + 8)):
            chunk = ids[w * n:(w + 1) * n]
            if len(chunk) == 0:
                continue
            x = np.concatenate([[1], chunk])
            xs.append(torch.from_numpy(x[:-1]))
            ys.append(torch.from_numpy(x[1:]))
        for x, y in zip(xs, ys):  # windows may differ in length (the last one)
            logits = model(x[None])
            loss = F.cross_entropy(logits[0], y, reduction="sum")
            tot += loss.item()
            cnt += len(y)
    model.train()
    return tot / cnt


@torch.no_grad()
def generate(model, sp, prompt, n, temp=0.0, top_k=0, seed=0):
    model.eval()
    g = torch.Generator().manual_seed(seed)
    ids = [1] + sp.encode(prompt)
    out = []
    for _ in range(n):
        x = torch.tensor(ids[-model.cfg["seq_len"]:])[None]
        logits = model(x)[0, -1]
        if temp <= 0:
            t = int(torch.argmax(logits))
        else:
            logits = logits / temp
            if top_k:
                v, _ = torch.topk(logits, top_k)
                logits[logits < v[-1]] = float("-inf")
            t = int(torch.multinomial(logits.softmax(-1), 1, generator=g))
        ids.append(t)
        out.append(t)
    model.train()
    return out


def decode(sp, toks):
    return sp.decode(toks)


def others_running():
    """Number of runnable threads on the machine that are not ours (a snapshot of /proc)."""
    me, n = str(os.getpid()), 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "R":
                        n += 1
        except OSError:
            pass
    return n


def save_ckpt(path, model, opt, step, args, cfg, tokens_seen, train_secs):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                "args": vars(args), "cfg": cfg, "tokens_seen": tokens_seen,
                "train_secs": train_secs}, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True,
                    help="training text, one line per verse (kjv-train.txt: not in the repository, see "
                         "tests/data/README.md)")
    ap.add_argument("--valid", default=DEFAULT_VALID, help="validation text (default %(default)s)")
    ap.add_argument("--out", default="/work/train", help="work dir: tokenizer, checkpoint (default %(default)s)")
    ap.add_argument("--vocab", type=int, default=4096, help="SentencePiece vocabulary size")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--rope-base", type=float, default=10000.0)
    ap.add_argument("--norm-eps", type=float, default=1e-5)
    ap.add_argument("--batch", type=int, default=16, help="sequences per step")
    ap.add_argument("--steps", type=int, default=900, help="total optimizer steps (cosine length)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--adaptive-threads", type=int, default=1,
                    help="1: drop to one thread while other jobs want the CPU (OpenMP threads stall badly on "
                         "a shared 2-core machine); 0: always --threads (bitwise reproducible)")
    ap.add_argument("--ckpt-every", type=float, default=180, help="seconds between checkpoints")
    ap.add_argument("--eval-every", type=int, default=100, help="steps between quick validation runs")
    ap.add_argument("--stop-after", type=float, default=0,
                    help="stop (with a checkpoint) after this many seconds in this process; 0 = never")
    ap.add_argument("--stop-at-step", type=int, default=0,
                    help="stop (with a checkpoint) after this step, e.g. to change --steps on resume; 0 = never")
    ap.add_argument("--bench", type=int, default=0, help="time this many steps, do not save, exit")
    ap.add_argument("--eval-only", action="store_true", help="load checkpoint, report loss and samples")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    os.makedirs(a.out, exist_ok=True)

    tok_path = os.path.join(a.out, "tokenizer.model")
    if not os.path.exists(tok_path):
        t0 = time.time()
        log(f"training tokenizer (BPE, vocab {a.vocab}) on {a.train}")
        train_tokenizer(a.train, os.path.join(a.out, "tokenizer"), a.vocab)
        log(f"tokenizer done in {time.time() - t0:.0f}s -> {tok_path}")
    sp = load_tokenizer(tok_path)
    assert sp.get_piece_size() == a.vocab and sp.id_to_piece(1) == "<s>" and sp.id_to_piece(2) == "</s>"
    train_ids, starts = encode_corpus(sp, a.train)
    valid_ids, _ = encode_corpus(sp, a.valid)
    log(f"train {len(train_ids)} tokens ({os.path.getsize(a.train) / len(train_ids):.2f} bytes/token), "
        f"valid {len(valid_ids)} tokens")

    cfg = dict(vocab_size=a.vocab, dim=a.dim, n_layers=a.layers, n_heads=a.heads, n_kv_heads=a.kv_heads,
               ffn_dim=a.ffn, seq_len=a.seq_len, rope_base=a.rope_base, norm_eps=a.norm_eps)
    model = Llama(cfg)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    log(f"model {cfg}: {n_params(model)} parameters; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads")

    ckpt_path = os.path.join(a.out, "ckpt.pt")
    step, tokens_seen, train_secs = 0, 0, 0.0
    if os.path.exists(ckpt_path) and not a.bench:
        ck = torch.load(ckpt_path)
        if ck["cfg"] != cfg:
            sys.exit(f"checkpoint {ckpt_path} has config {ck['cfg']}, not {cfg}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, tokens_seen, train_secs = ck["step"], ck["tokens_seen"], ck["train_secs"]
        log(f"resumed from {ckpt_path} at step {step} ({tokens_seen} tokens, {train_secs:.0f}s)")

    if a.eval_only:
        vl = evaluate(model, valid_ids, a.seq_len)
        log(f"step {step}: validation loss {vl:.4f} nats/token, perplexity {math.exp(vl):.2f} "
            f"({len(valid_ids)} tokens)")
        prompt = "And God said"
        g = generate(model, sp, prompt, 40)
        log(f"greedy ids: {g}")
        log("greedy: " + repr(decode(sp, sp.encode(prompt) + g)))
        for s in range(3):
            log(f"sampled (temp 0.8, top-k 40, seed {s}): " +
                repr(decode(sp, sp.encode(prompt) + generate(model, sp, prompt, 60, 0.8, 40, s))))
        return

    model.train()
    t_last_ckpt = time.time()
    t_start = time.time()
    t_win, tok_win = time.time(), 0
    busy, threads = [], a.threads
    while step < a.steps:
        if a.adaptive_threads and a.threads > 1:
            busy = (busy + [others_running()])[-10:]
            want = 1 if sum(busy) / len(busy) >= 0.5 else a.threads
            if want != threads:
                threads = want
                torch.set_num_threads(threads)
                log(f"now using {threads} thread(s) (other runnable threads: {sum(busy) / len(busy):.1f})")
        lr = lr_at(step, a)
        for grp in opt.param_groups:
            grp["lr"] = lr
        x, y = get_batch(train_ids, starts, step, a)
        t0 = time.time()
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.time() - t0
        train_secs += dt
        step += 1
        tokens_seen += x.numel()
        tok_win += x.numel()
        if step % 10 == 0 or step == 1:
            now = time.time()
            log(f"step {step}/{a.steps} loss {loss.item():.4f} lr {lr:.2e} "
                f"{tok_win / max(1e-9, now - t_win):.0f} tok/s tokens {tokens_seen}")
            t_win, tok_win = now, 0
        if a.bench and step >= a.bench:
            log(f"bench: {tokens_seen / train_secs:.0f} tok/s (compute only)")
            return
        if step % a.eval_every == 0:
            vl = evaluate(model, valid_ids, a.seq_len, max_windows=24)
            log(f"step {step} quick validation loss {vl:.4f} (first 24 windows)")
        stop = (a.stop_after and time.time() - t_start > a.stop_after) or step == a.stop_at_step
        if time.time() - t_last_ckpt > a.ckpt_every or step == a.steps or stop:
            save_ckpt(ckpt_path, model, opt, step, a, cfg, tokens_seen, train_secs)
            t_last_ckpt = time.time()
            log(f"checkpoint step {step} -> {ckpt_path}")
        if stop:
            log("stopping early (--stop-after / --stop-at-step)")
            return
    vl = evaluate(model, valid_ids, a.seq_len)
    log(f"done: step {step}, {tokens_seen} tokens, {train_secs:.0f}s compute; "
        f"validation loss {vl:.4f} nats/token, perplexity {math.exp(vl):.2f}")
    save_ckpt(ckpt_path, model, opt, step, a, cfg, tokens_seen, train_secs)


if __name__ == "__main__":
    main()

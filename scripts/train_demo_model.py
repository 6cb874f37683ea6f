#!/usr/bin/python3
"""Train the small Llama-architecture adder that namedarr ships as its demo.

The task is decimal addition of two numbers of 0 to 999, with every number
written little-endian: least significant digit first, zero-padded, the
operands to 3 digits and the sum to 4.  123 + 45 = 168 is the text
"<s>321+540=8610</s>": the prompt "<s>321+540=" and the answer "8610".
Written that way, answer digit i sits at a fixed distance from operand
digits i (so RoPE attention finds them by relative position) and depends
only on them and on the carry out of the digit written just before, so a
small model learns the task completely in minutes; the usual order (which
needs the carry look-ahead) stalled below 90%.  Readers (the demo, the
tests) reverse the digits for people.  The answer is checkable, so a wrong
RoPE, mask, KV cache or sampler in namedarr shows up as wrong sums.

The model is written out plainly below with Hugging Face LlamaForCausalLM
semantics (RMSNorm, rotate-half RoPE with rope_theta, grouped-query attention
where query head h reads key/value head h // (Hq / Hkv), SwiGLU MLP, untied
lm_head), because Debian has PyTorch but not the transformers package.

Output (a Hugging Face model directory, default models/adder/):
  config.json, generation_config.json   Llama config, greedy generation
  model.safetensors                     written here, HF tensor names, f32
  tokenizer.json, tokenizer_config.json HF tokenizers format: a character
                                        BPE with no merges, <s> prepended
  reference_logits.json                 PyTorch's logits for fixed prompts
  heldout.json                          1,000 held-out problems (never seen
                                        in training) and PyTorch's greedy
                                        accuracy on them
  training.json                         settings, time, loss, accuracy

Only PyTorch and numpy from Debian (python3-torch) are needed; building and
testing namedarr never run this script.  Usage:
  nice /usr/bin/python3 scripts/train_demo_model.py [--out models/adder] [--steps N]
The defaults reproduce the committed models/adder (seeded; the same torch
thread count gives the same model).
"""

import argparse
import copy
import json
import math
import os
import struct
import time


def pick_blis_kernels():
    """Debian's PyTorch multiplies matrices in Debian's BLIS, which falls back
    to slow generic kernels on CPUs it does not know.  Choose by CPU features
    (not by model name) unless the user already set BLIS_ARCH_TYPE."""
    if "BLIS_ARCH_TYPE" in os.environ:
        return
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l for l in f if l.startswith("flags")), "").split()
    except OSError:
        return
    if {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= set(flags):
        os.environ["BLIS_ARCH_TYPE"] = "skx"
    elif {"avx2", "fma"} <= set(flags):
        os.environ["BLIS_ARCH_TYPE"] = "haswell"


pick_blis_kernels()  # before torch loads BLIS
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ---- vocabulary -------------------------------------------------------------
SPECIALS = ["<unk>", "<s>", "</s>"]
CHARS = list("0123456789+=")
PAD = "<pad>"
VOCAB = SPECIALS + CHARS + [PAD]
TOK = {t: i for i, t in enumerate(VOCAB)}
UNK_ID, BOS_ID, EOS_ID, PAD_ID = TOK["<unk>"], TOK["<s>"], TOK["</s>"], TOK[PAD]
MAX_DIGITS = 3
MAX_LEN = 1 + (MAX_DIGITS + 1) * 2 + (MAX_DIGITS + 1) + 1  # <s>aaa+bbb=cccc</s>


def encode(text):
    return [BOS_ID] + [TOK.get(c, UNK_ID) for c in text]


def little_endian(v, digits):
    """168, 4 -> "8610": zero-padded to `digits`, least significant first."""
    return f"{v:0{digits}d}"[::-1]


def prompt_text(x, y):
    """123, 45 -> "321+540=" """
    return f"{little_endian(x, MAX_DIGITS)}+{little_endian(y, MAX_DIGITS)}="


def answer_text(s):
    """168 -> "8610" """
    return little_endian(s, MAX_DIGITS + 1)


# ---- the model (Hugging Face Llama semantics) -------------------------------
class Config:
    def __init__(self, **kw):
        self.vocab_size = len(VOCAB)
        self.hidden_size = 128
        self.intermediate_size = 384
        self.num_hidden_layers = 3
        self.num_attention_heads = 4
        self.num_key_value_heads = 2
        self.head_dim = 32
        self.rope_theta = 10000.0
        self.rms_norm_eps = 1e-5
        self.max_position_embeddings = 64
        self.__dict__.update(kw)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(cfg, positions, dtype=torch.float32):
    """positions: [T] -> cos, sin: [T, head_dim] (the two halves repeat)."""
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=dtype) / d))
    freqs = positions.to(dtype)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        hq, hkv, d, e = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim, cfg.hidden_size
        self.q_proj = nn.Linear(e, hq * d, bias=False)
        self.k_proj = nn.Linear(e, hkv * d, bias=False)
        self.v_proj = nn.Linear(e, hkv * d, bias=False)
        self.o_proj = nn.Linear(hq * d, e, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        hq, hkv, d = self.cfg.num_attention_heads, self.cfg.num_key_value_heads, self.cfg.head_dim
        q = self.q_proj(x).view(b, t, hq, d).transpose(1, 2)   # [b, hq, t, d]
        k = self.k_proj(x).view(b, t, hkv, d).transpose(1, 2)  # [b, hkv, t, d]
        v = self.v_proj(x).view(b, t, hkv, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = hq // hkv  # query head h uses key/value head h // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        # Sequences here are short: broadcast-and-sum is much faster on a CPU
        # than batched matrix products of 14 x 16 blocks (same arithmetic).
        scores = (q[:, :, :, None, :] * k[:, :, None, :, :]).sum(-1) / math.sqrt(d) + mask
        w = torch.softmax(scores.to(torch.promote_types(scores.dtype, torch.float32)),
                          dim=-1).to(q.dtype)      # [b, hq, t, s]
        out = (w[..., None] * v[:, :, None, :, :]).sum(-2)         # [b, hq, t, d]
        out = out.transpose(1, 2).reshape(b, t, hq * d)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e, i = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = nn.Linear(e, i, bias=False)
        self.up_proj = nn.Linear(e, i, bias=False)
        self.down_proj = nn.Linear(i, e, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Body(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, mean=0.0, std=0.02)

    def forward(self, ids):
        """ids: [b, t] -> logits [b, t, vocab]; positions 0..t-1, causal."""
        t = ids.shape[1]
        dtype = self.lm_head.weight.dtype  # f32, or f64 for the exact reference
        cos, sin = rope_cos_sin(self.cfg, torch.arange(t), dtype)
        mask = torch.full((t, t), float("-inf"), dtype=dtype).triu(1)
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.model.norm(x))


# ---- data -------------------------------------------------------------------
def draw_operands(rng, n):
    """Digit counts uniform in 1..MAX_DIGITS, then the value uniform."""
    out = []
    for _ in range(2):
        digits = rng.integers(1, MAX_DIGITS + 1, size=n)
        lo = np.where(digits == 1, 0, 10 ** (digits - 1))
        hi = 10 ** digits
        out.append(lo + (rng.random(n) * (hi - lo)).astype(np.int64))
    return out[0], out[1]


def heldout_problems(seed=20261129, n=1000):
    rng = np.random.default_rng(seed)
    a, b = draw_operands(rng, 4 * n)
    seen, probs = set(), []
    for x, y in zip(a.tolist(), b.tolist()):
        if (x, y) not in seen:
            seen.add((x, y))
            probs.append((x, y))
        if len(probs) == n:
            break
    return probs


def make_batch(rng, n, banned):
    a, b = draw_operands(rng, n)
    keys = a * 10**MAX_DIGITS + b
    clash = np.isin(keys, banned)
    while clash.any():  # never train on a held-out problem
        a2, b2 = draw_operands(rng, int(clash.sum()))
        a[clash], b[clash] = a2, b2
        clash = np.isin(a * 10**MAX_DIGITS + b, banned)
    ids = np.full((n, MAX_LEN), PAD_ID, dtype=np.int64)
    labels = np.full((n, MAX_LEN), -100, dtype=np.int64)
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
        prompt = encode(prompt_text(x, y))
        answer = [TOK[c] for c in answer_text(x + y)] + [EOS_ID]
        seq = prompt + answer
        ids[i, : len(seq)] = seq
        # predict only the answer (and </s>): position p predicts token p+1
        labels[i, len(prompt) - 1 : len(seq) - 1] = answer
    return torch.from_numpy(ids), torch.from_numpy(labels)


@torch.no_grad()
def greedy_answers(model, problems):
    """Greedy continuation of each prompt until </s>; groups equal lengths."""
    max_new = MAX_DIGITS + 2
    answers = {}
    groups = {}
    for x, y in problems:
        groups.setdefault(len(prompt_text(x, y)), []).append((x, y))
    for _, group in groups.items():
        ids = torch.tensor([encode(prompt_text(x, y)) for x, y in group])
        done = torch.zeros(len(group), dtype=torch.bool)
        outs = [[] for _ in group]
        for _ in range(max_new):
            nxt = model(ids)[:, -1].argmax(-1)
            for i, tok in enumerate(nxt.tolist()):
                if not done[i]:
                    if tok == EOS_ID:
                        done[i] = True
                    else:
                        outs[i].append(tok)
            ids = torch.cat([ids, nxt[:, None]], dim=1)
        for (x, y), o in zip(group, outs):
            answers[(x, y)] = "".join(VOCAB[t] for t in o)
    return answers


def accuracy(model, problems):
    got = greedy_answers(model, problems)
    return sum(got[p] == answer_text(p[0] + p[1]) for p in problems) / len(problems), got


# ---- writing the Hugging Face directory ------------------------------------
def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = tensors[name].detach().contiguous().float().numpy().astype("<f4")
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def tokenizer_json():
    added = [{"id": TOK[t], "content": t, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True}
             for t in SPECIALS + [PAD]]
    bos = {"SpecialToken": {"id": "<s>", "type_id": 0}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [BOS_ID], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "Fuse"},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(VOCAB)}, "merges": []},
    }


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def write_model_dir(out, model, cfg):
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "config.json"), {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_key_value_heads, "head_dim": cfg.head_dim,
        "hidden_act": "silu", "max_position_embeddings": cfg.max_position_embeddings,
        "rms_norm_eps": cfg.rms_norm_eps, "rope_theta": cfg.rope_theta,
        "rope_scaling": None, "attention_bias": False, "mlp_bias": False,
        "tie_word_embeddings": False, "bos_token_id": BOS_ID, "eos_token_id": EOS_ID,
        "pad_token_id": PAD_ID, "torch_dtype": "float32"})
    write_json(os.path.join(out, "generation_config.json"), {
        "bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "pad_token_id": PAD_ID,
        "do_sample": False, "max_new_tokens": MAX_DIGITS + 2})
    write_json(os.path.join(out, "tokenizer.json"), tokenizer_json())
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>",
        "eos_token": "</s>", "unk_token": "<unk>", "pad_token": PAD,
        "add_bos_token": True, "add_eos_token": False, "model_max_length": MAX_LEN})
    write_safetensors(os.path.join(out, "model.safetensors"), model.state_dict())


# 123+45, 999+1, 7+8, 500+500 (answer given), 0+0, 86+314 (first digits given)
REFERENCE_PROMPTS = ["321+540=", "999+100=", "700+800=", "005+005=0001", "000+000=",
                     "680+413=004"]


REFERENCE_NOTE = ("PyTorch logits [position][vocab] for <s> + text: 'logits' from the f32 "
                  "model, 'logits_f64' from the same weights widened to f64 (RoPE and "
                  "softmax in f64 too), i.e. the exact values f32 arithmetic approximates")


@torch.no_grad()
def f64_logits(model, ids):
    wide = copy.deepcopy(model).double()
    return [[float(v) for v in row] for row in wide(torch.tensor([ids]))[0].tolist()]


@torch.no_grad()
def write_reference_logits(out, model):
    items = []
    for text in REFERENCE_PROMPTS:
        ids = encode(text)
        logits = model(torch.tensor([ids]))[0]
        items.append({"text": text, "ids": ids,
                      "logits": [[float(v) for v in row] for row in logits.tolist()],
                      "logits_f64": f64_logits(model, ids)})
    write_json(os.path.join(out, "reference_logits.json"),
               {"note": REFERENCE_NOTE, "prompts": items})


def read_model_dir(out):
    """The f32 model back from a directory this script wrote."""
    with open(os.path.join(out, "config.json")) as f:
        c = json.load(f)
    cfg = Config(num_hidden_layers=c["num_hidden_layers"], hidden_size=c["hidden_size"],
                 head_dim=c["head_dim"], intermediate_size=c["intermediate_size"],
                 num_attention_heads=c["num_attention_heads"],
                 num_key_value_heads=c["num_key_value_heads"], rope_theta=c["rope_theta"],
                 rms_norm_eps=c["rms_norm_eps"])
    with open(os.path.join(out, "model.safetensors"), "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    state = {}
    for name, t in header.items():
        if name != "__metadata__":
            a, b = t["data_offsets"]
            flat = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32)
            state[name] = torch.from_numpy(flat.reshape(t["shape"]).copy())
    model = LlamaForCausalLM(cfg)
    model.load_state_dict(state)
    return model.eval()


def add_f64_reference(out):
    """Add 'logits_f64' to an existing reference_logits.json, leaving the f32
    logits recorded at training time as they are."""
    model = read_model_dir(out)
    path = os.path.join(out, "reference_logits.json")
    with open(path) as f:
        ref = json.load(f)
    for item in ref["prompts"]:
        item["logits_f64"] = f64_logits(model, item["ids"])
    ref["note"] = REFERENCE_NOTE
    write_json(path, ref)
    print(f"added f64 logits to {path}", flush=True)


# ---- training ---------------------------------------------------------------
def main():
    global MAX_DIGITS, MAX_LEN
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models", "adder"))
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=0, help="stop (annealed) after this long")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (on a busy 2-core machine 1 was 5-10x faster per step "
                         "than 2; the result depends on the count)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--digits", type=int, default=MAX_DIGITS, help="largest operand length")
    ap.add_argument("--add-f64-reference", action="store_true",
                    help="only add the f64 logits to --out's reference_logits.json (no training)")
    args = ap.parse_args()
    if args.add_f64_reference:
        add_f64_reference(os.path.normpath(args.out))
        return
    MAX_DIGITS = args.digits
    MAX_LEN = 1 + (MAX_DIGITS + 1) * 2 + (MAX_DIGITS + 1) + 1

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    heads = 4
    cfg = Config(num_hidden_layers=args.layers, hidden_size=args.hidden,
                 head_dim=args.hidden // heads, intermediate_size=3 * args.hidden)
    model = LlamaForCausalLM(cfg)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"parameters: {nparams}", flush=True)

    heldout = heldout_problems()
    banned = np.array([x * 10**MAX_DIGITS + y for x, y in heldout], dtype=np.int64)
    val = heldout_problems(seed=7, n=300)  # progress check only (may overlap training)

    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98))
    warmup = 200

    def progress(step):
        """Fraction of training done: by steps, or by wall clock with --minutes
        (training.json records the steps taken; --steps N alone repeats it)."""
        p = step / args.steps
        if args.minutes > 0:
            p = max(p, (time.time() - start) / (60 * args.minutes))
        return p

    def lr_at(step, p):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))

    start = time.time()
    history = []
    step = 0
    while progress(step) < 1.0:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, progress(step))
        ids, labels = make_batch(rng, args.batch, banned)
        logits = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), labels.reshape(-1),
                               ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % args.log_every == 0:
            print(f"step {step} loss {loss.item():.4f} {time.time() - start:.0f}s", flush=True)
        if (step + 1) % args.eval_every == 0:
            model.eval()
            acc, _ = accuracy(model, val)
            model.train()
            history.append({"step": step + 1, "loss": loss.item(), "val_acc": acc,
                            "seconds": time.time() - start})
            print(f"  val accuracy {acc:.3f}", flush=True)
        step += 1
    train_seconds = time.time() - start

    model.eval()
    acc, got = accuracy(model, heldout)
    print(f"held-out greedy accuracy: {acc:.4f} ({train_seconds:.0f}s training)", flush=True)
    out = os.path.normpath(args.out)
    write_model_dir(out, model, cfg)
    write_reference_logits(out, model)
    write_json(os.path.join(out, "heldout.json"), {
        "note": ("a+b problems never seen in training. Numbers are written least significant "
                 "digit first, zero-padded: prompt '<s>' + a (operand_digits) + '+' + b + '=', "
                 "answer a+b (answer_digits) then </s>; 123+45 is '<s>321+540=' -> '8610</s>'. "
                 "pytorch_answers are in that written form."),
        "operand_digits": MAX_DIGITS, "answer_digits": MAX_DIGITS + 1, "little_endian": True,
        "seed": 20261129, "pytorch_greedy_accuracy": acc,
        "problems": [[x, y] for x, y in heldout],
        "pytorch_answers": [got[p] for p in heldout]})
    write_json(os.path.join(out, "training.json"), {
        "steps": step, "batch": args.batch, "lr": args.lr, "seed": args.seed,
        "threads": args.threads, "digits": args.digits, "hidden": args.hidden, "layers": args.layers,
        "minutes": args.minutes, "parameters": nparams, "train_seconds": round(train_seconds),
        "heldout_accuracy": acc, "torch_version": torch.__version__, "history": history})
    print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main()

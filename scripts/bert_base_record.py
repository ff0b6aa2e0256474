"""The wall time of one record of a BERT-base-sized stack: ``BertForSequenceClassification`` with
12 blocks of hidden size 768 (12 heads, MLP 3072), built from its config (random weights,
nothing downloaded), on a probe of N token sequences of 16 to 32 tokens, padded
(``python3 scripts/bert_base_record.py [device] [N]``). Prints what ``layers="blocks"`` picks,
the forward pass alone, and one record of every block (whole layers, matrix Rényi, every token:
``token_pooling="all"``) and of one block's 768 units."""

import sys
import time

import torch

from infoscope import Recorder
from infoscope.capture import probe_activations

try:
    import transformers
except ImportError:
    sys.exit("needs transformers: pip install 'infoscope[transformers]'")

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
torch.manual_seed(0)
cfg = transformers.BertConfig(vocab_size=1000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                              intermediate_size=3072, max_position_embeddings=64)
model = transformers.BertForSequenceClassification(cfg).to(device)
ids = torch.randint(2, 1000, (n, 32))
lengths = torch.randint(16, 33, (n,))
mask = (torch.arange(32)[None] < lengths[:, None]).long()
x, y = {"input_ids": ids * mask, "attention_mask": mask}, torch.randint(0, 2, (n,))

with Recorder(model, (x, y), layers="blocks", estimators=["renyi"], units=False, store=None) as rec:
    print(f"layers='blocks': {len(rec.layers)} layers: {', '.join(rec.layers)}", flush=True)
    start = time.perf_counter()
    probe_activations(model, rec.probes[0].x, rec.layers, 64, device)
    forward = time.perf_counter() - start
    start = time.perf_counter()
    rec.record(0)
    whole = time.perf_counter() - start
print(f"N={n} on {device}: forward pass alone {forward:.1f} s; one record of the {len(rec.layers)} layers "
      f"(forward included) {whole:.1f} s", flush=True)
block = "bert.encoder.layer.11"
with Recorder(model, (x, y), layers=[block], estimators=["renyi"], units=True, max_units=None, store=None) as rec:
    start = time.perf_counter()
    m = rec.measure(0, units=True)
    units = time.perf_counter() - start
print(f"one block with its {sum(1 for r in m.rows if r.unit is not None and r.quantity == 'H(T)')} units "
      f"(each unit the vector of its feature over {int(lengths.max())} tokens): {units:.1f} s", flush=True)

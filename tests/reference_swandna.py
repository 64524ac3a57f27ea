"""The reference code's network (SwanDNA.py of the public FinDNA code), re-implemented with its module structure and
key names: per-group torch.roll in a Python loop. The one copy, shared by the importer tests and
bench/bench_model.py."""
import math
import numpy as np
import torch
import torch.nn as nn

class RefMlp(nn.Module):
    def __init__(self, E, H):
        super().__init__()
        self.fc1, self.act, self.fc2, self.drop = nn.Linear(E, H), nn.GELU(), nn.Linear(H, E), nn.Dropout(0.)
    def forward(self, x): return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))

def roll_reference(h:torch.Tensor, track_size:int) -> torch.Tensor:
    "The reference CircularShift: split channels into groups, roll group i by -2^(i-1) along L, concatenate."
    y = torch.split(h, track_size, dim=-1)
    return torch.cat([y[0]] + [torch.roll(y[i], shifts=-2 ** (i - 1), dims=1) for i in range(1, len(y))], -1)

class RefCircularShift(nn.Module):
    def __init__(self, g): super().__init__(); self.g = g
    def forward(self, x): return roll_reference(x, self.g)

class RefSwanDNABlock(nn.Module):
    def __init__(self, E, g, H, prenorm, norm):
        super().__init__()
        self.prenorm = nn.LayerNorm(E) if prenorm == "LN" else nn.Identity()
        self.norm = nn.LayerNorm(E) if norm == "LN" else nn.Identity()       # defined, never applied
        self.column_transform, self.dropout, self.shift = RefMlp(E, H), nn.Dropout(0.), RefCircularShift(g)
    def forward(self, x):
        return self.shift(self.dropout(self.column_transform(self.prenorm(x)))) + x

class RefSwanDNAEncoder(nn.Module):
    def __init__(self, max_len, E, g, H, prenorm, norm):
        super().__init__()
        self.SwanDNA_blocks = nn.ModuleList([RefSwanDNABlock(E, g, H, prenorm, norm)
                                             for _ in range(math.ceil(np.log2(max_len)))])
    def forward(self, x):
        for block in self.SwanDNA_blocks: x = block(x)
        return x

class RefSwanDNANetwork(nn.Module):
    def __init__(self, max_len, E, g, H, prenorm, norm, blocks):
        super().__init__()
        self.SwanDNA_blocks = nn.ModuleList([RefSwanDNAEncoder(max_len, E, g, H, prenorm, norm) for _ in range(blocks)])
    def forward(self, x):
        for block in self.SwanDNA_blocks: x = block(x)
        return x

class RefModel4Pretrain(nn.Module):
    "The reference's pretraining network, re-implemented with its module structure and key names."
    def __init__(self, max_len, g, H, prenorm="None", norm="None", blocks=4):
        super().__init__()
        E = (math.ceil(np.log2(max_len)) + 1) * g
        self.embedding = nn.Linear(5, E)
        self.encoder = RefSwanDNANetwork(max_len, E, g, H, prenorm, norm, blocks)
        self.linear = nn.Linear(E, 5)
    def forward(self, x): return self.linear(self.encoder(self.embedding(x.float())))

def naive_chordmixer(E:int, g:int, H:int, n_layers:int, blocks:int) -> nn.Module:
    "The reference's backbone as a flat stack of its blocks (no norms): the bench's baseline for the fused rotation."
    return nn.Sequential(*[RefSwanDNABlock(E, g, H, "None", "None") for _ in range(n_layers * blocks)])

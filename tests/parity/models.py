"""The PyTorch twins of xgrad's example models (examples/programs/models/*.hpp and the Fashion-MNIST
models of examples/trainer and examples/programs), written as a PyTorch user writes them, with the
same parameter and buffer names: run_models.py checks xgrad's models against these weight for
weight, run_example_checkpoints.py loads the examples' checkpoints into them."""
import torch
from torch import nn
import torch.nn.functional as F


# examples/programs/models/resnet.hpp
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    def __init__(self, width=16, blocks=1, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self.stage(width, width, blocks, 1)
        self.layer2 = self.stage(width, 2 * width, blocks, 2)
        self.layer3 = self.stage(2 * width, 4 * width, blocks, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * width, classes)

    @staticmethod
    def stage(cin, cout, blocks, stride):
        return nn.Sequential(*[BasicBlock(cout if i else cin, cout, 1 if i else stride) for i in range(blocks)])

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.fc(torch.flatten(self.avgpool(h), 1))


# examples/programs/models/unet.hpp
class ConvNorm(nn.Module):
    def __init__(self, cin, cout, stride, transposed, groups):
        super().__init__()
        if transposed:
            self.conv = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
        else:
            self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.norm = nn.GroupNorm(groups, cout)

    def forward(self, x):
        return F.relu(self.norm(self.conv(x)))


class UNetAutoencoder(nn.Module):
    def __init__(self, width=16, groups=4):
        super().__init__()
        c = width
        self.enc = ConvNorm(1, c, 1, False, groups)
        self.down1 = ConvNorm(c, 2 * c, 2, False, groups)
        self.down2 = ConvNorm(2 * c, 4 * c, 2, False, groups)
        self.up2 = ConvNorm(4 * c, 2 * c, 2, True, groups)
        self.dec2 = ConvNorm(4 * c, 2 * c, 1, False, groups)
        self.up1 = ConvNorm(2 * c, c, 2, True, groups)
        self.dec1 = ConvNorm(2 * c, c, 1, False, groups)
        self.head = nn.Conv2d(c, 1, 1)

    def forward(self, x):
        e = self.enc(x)
        d1 = self.down1(e)
        d2 = self.down2(d1)
        u2 = self.dec2(torch.cat([self.up2(d2), d1], 1))
        u1 = self.dec1(torch.cat([self.up1(u2), e], 1))
        return torch.sigmoid(self.head(u1))


# examples/programs/models/tiny_gpt.hpp
class Mlp(nn.Module):
    def __init__(self, e):
        super().__init__()
        self.fc = nn.Linear(e, 4 * e)
        self.act = nn.GELU()
        self.proj = nn.Linear(4 * e, e)

    def forward(self, x):
        return self.proj(self.act(self.fc(x)))


class Block(nn.Module):
    def __init__(self, e, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(e)
        self.attn = nn.MultiheadAttention(e, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(e)
        self.mlp = Mlp(e)

    def forward(self, x):
        t = x.shape[1]
        # PyTorch 1.13's MultiheadAttention has no is_causal: the causal mask is given (True = masked).
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        h = self.ln1(x)
        y = x + self.attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        return y + self.mlp(self.ln2(y))


class TinyGpt(nn.Module):
    def __init__(self, vocab, context=64, embed=64, heads=4, layers=2):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, embed)
        self.pos_emb = nn.Embedding(context, embed)
        self.blocks = nn.ModuleList([Block(embed, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(embed)
        self.lm_head = nn.Linear(embed, vocab, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # weight tying

    def forward(self, tokens):
        pos = torch.arange(tokens.shape[1])
        h = self.tok_emb(tokens) + self.pos_emb(pos)
        for b in self.blocks:
            h = b(h)
        return self.lm_head(self.ln_f(h))


# examples/trainer/fashion_models.hpp (xgrad-train --model mlp / cnn)
class TrainerMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        h = self.drop(F.relu(self.fc1(x.reshape(x.shape[0], 784))))
        return self.fc3(self.drop(F.relu(self.fc2(h))))


class TrainerCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.drop = nn.Dropout(0.3)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        h = self.drop(F.relu(self.fc1(self.drop(torch.flatten(h, 1)))))
        return self.fc2(h)


# examples/programs/save_and_resume.cpp
class SaveAndResumeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 8)
        self.fc2 = nn.Linear(8, 1)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


# The parity sizes of models_driver.cpp (keep in step), the loss of each.
PARITY = {
    "resnet": (lambda: ResNet(4, 1, 10), lambda m, x, y: F.cross_entropy(m(x), y)),
    "unet": (lambda: UNetAutoencoder(4, 2), lambda m, x, y: F.mse_loss(m(x), y)),
    "gpt": (lambda: TinyGpt(11, context=8, embed=16, heads=2, layers=2),
            lambda m, x, y: F.cross_entropy(m(x).reshape(16, 11), y)),
}

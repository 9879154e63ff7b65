"""Small images with a different mean and spread per channel, a train and a test split."""

import pytest
import torch


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    train = torch.rand(40, 3, 6, 6, generator=g) * torch.tensor([1.0, 2.0, 3.0])[:, None, None] + 5
    test = torch.rand(10, 3, 6, 6, generator=g) * 2 + 4
    return train, test

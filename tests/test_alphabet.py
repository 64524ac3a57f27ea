"Alphabet checks beyond the notebook: the three input kinds agree on random data, and errors name positions."
import numpy as np, pytest, torch
from findna.alphabet import AlphabetError, decode, encode, encode_batch, one_hot, reverse_complement

def random_dna(n, length, seed):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGTNacgt"), size=length)) for _ in range(n)]

@pytest.mark.parametrize("length", [1, 7, 100, 1001])
def test_reverse_complement_agrees_across_kinds(length):
    for s in random_dna(5, length, seed=length):
        rc = reverse_complement(s)
        assert reverse_complement(rc) == s
        assert decode(reverse_complement(encode(s))) == rc.upper()
        assert decode(reverse_complement(torch.from_numpy(encode(s)))) == rc.upper()
        assert decode(reverse_complement(one_hot(s))) == rc.upper()

def test_known_pair_all_kinds():
    assert reverse_complement("AACGN") == "NCGTT"
    assert decode(reverse_complement(encode("AACGN"))) == "NCGTT"
    assert decode(reverse_complement(one_hot(["AACGN", "GGGGG"]))) == ["NCGTT", "CCCCC"]

def test_iupac_and_errors():
    assert decode(encode("RYSWKMBDHVNrysw")) == "N" * 15
    with pytest.raises(AlphabetError, match=r"'Z' at position 5"):
        encode("ACGTAZ")
    with pytest.raises(AlphabetError, match="2 invalid"):
        encode("AC GT\n")

def test_padded_batch_rc_keeps_padding_at_end():
    idx, lengths = encode_batch(["ACGTT", "GA"])
    out = reverse_complement(one_hot(idx), torch.from_numpy(lengths))
    assert decode(out) == ["AACGT", "TC***"]
    assert torch.equal(reverse_complement(out, torch.from_numpy(lengths)), one_hot(idx))

def test_encode_is_vectorised_on_a_chromosome_sized_input():
    s = "ACGT" * 250_000                      # 1 Mbp: a per-character loop would be slow, the table is not
    idx = encode(s)
    assert idx.shape == (1_000_000,) and idx.dtype == np.int8
    assert np.array_equal(np.bincount(idx), [250_000] * 4)

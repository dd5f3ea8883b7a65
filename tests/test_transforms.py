"""DATA (transforms): torchvision.transforms and torchvision.utils.make_grid held to the
reference (reference/transforms.py)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from reference.transforms import (
    center_crop,
    compose,
    convert_rgb,
    make_grid,
    normalize,
    resize,
    resize_output_size,
    to_tensor,
)
from tests.strategies import finite_arrays, float_dtypes
from tests.support import (
    LazyModule,
    assert_both_raise,
    assert_matches,
    make_noncontiguous,
    requires_torchvision,
    to_numpy,
    to_torch,
)

pytestmark = requires_torchvision  # every test here is about torchvision.transforms
torchvision = LazyModule("torchvision")
T = LazyModule("torchvision.transforms")
TF = LazyModule("torchvision.transforms.functional")

sides = st.integers(1, 5)


@st.composite
def hwc_uint8(draw, channels: int | None = None):
    """An (H, W, C) uint8 image; the pixels come from a seed (cheaper than drawing each)."""
    c = channels if channels is not None else draw(st.sampled_from([1, 3, 4]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    pixels = rng.integers(0, 256, (draw(sides), draw(sides), c), dtype=np.uint8)
    if draw(st.booleans()):  # extremes: all 0 or all 255 in places
        pixels[rng.random(pixels.shape) < 0.3] = draw(st.sampled_from([0, 255]))
    return pixels


def _pil(array: np.ndarray) -> Image.Image:
    """A PIL image of an HWC uint8 array: L, RGB or RGBA by its channel count."""
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


# --- DATA-16: ToTensor ---------------------------------------------------------------------


@pytest.mark.spec("DATA-16")
@given(hwc_uint8())
def test_to_tensor_scales_byte_images_to_unit_floats(array):
    image = _pil(array)
    assert image.mode == {1: "L", 3: "RGB", 4: "RGBA"}[array.shape[-1]]
    expected = to_tensor(image)
    assert expected.shape == (array.shape[2], array.shape[0], array.shape[1])
    assert expected.dtype == np.float32  # torch's default dtype
    assert_matches(TF.to_tensor(image), expected, rtol=0, atol=0)
    assert_matches(TF.to_tensor(array), to_tensor(array), rtol=0, atol=0)  # HWC uint8 array
    # independently: channel c of the result is the c-th HWC plane over 255
    np.testing.assert_allclose(expected, np.moveaxis(array, -1, 0) / 255.0, rtol=1e-6)


@pytest.mark.spec("DATA-16")
@given(hnp.arrays(np.uint16, st.tuples(sides, sides)))
@example(np.array([[0, 1], [32767, 40000]], dtype=np.uint16))  # 40000 wraps to -25536
def test_to_tensor_keeps_16_bit_images_unscaled_and_signed(array):
    image = Image.fromarray(array)
    assert image.mode == "I;16"
    expected = to_tensor(image)
    assert expected.dtype == np.int16 and expected.shape == (1, *array.shape)
    np.testing.assert_array_equal(expected[0], array.astype(np.int16))  # wraps above 32767
    assert_matches(TF.to_tensor(image), expected, rtol=0, atol=0)


@pytest.mark.spec("DATA-16")
@given(st.sampled_from(["I", "F", "1"]), hnp.arrays(np.int32, st.tuples(sides, sides),
                                                     elements=st.integers(-1000, 1000)))
def test_to_tensor_on_int_float_and_bilevel_modes(mode, array):
    image = Image.fromarray(array).convert(mode) if mode != "1" else Image.fromarray(array > 0)
    assert image.mode == mode
    assert_matches(TF.to_tensor(image), to_tensor(image), rtol=0, atol=0)


@pytest.mark.spec("DATA-16")
@given(finite_arrays(st.tuples(sides, sides, st.integers(1, 4)), np.float64))
def test_to_tensor_leaves_non_byte_arrays_unscaled(array):
    expected = to_tensor(array)
    np.testing.assert_array_equal(expected, np.moveaxis(array, -1, 0))
    assert_matches(TF.to_tensor(array), expected, rtol=0, atol=0)


@pytest.mark.spec("DATA-16")
def test_to_tensor_rejects_other_inputs():
    assert_both_raise(
        lambda: TF.to_tensor(np.zeros((1, 2, 2, 3), np.uint8)),
        lambda: to_tensor(np.zeros((1, 2, 2, 3), np.uint8)),
        match="2/3 dimensional",
    )
    assert_both_raise(
        lambda: TF.to_tensor([1, 2]), lambda: to_tensor([1, 2]),
        torch_error=TypeError, reference_error=TypeError, match="PIL Image or ndarray",
    )


# --- DATA-17: Normalize --------------------------------------------------------------------


@st.composite
def normalize_cases(draw):
    dtype = draw(float_dtypes())
    c = draw(st.integers(1, 4))
    shape = (*draw(st.lists(sides, max_size=1)), c, draw(sides), draw(sides))
    x = draw(finite_arrays(shape, dtype, min_value=-2, max_value=2))
    mean = draw(st.lists(st.floats(-1, 1), min_size=c, max_size=c))
    std = draw(st.lists(st.floats(0.05, 2), min_size=c, max_size=c))
    return x, mean, std, draw(st.booleans())


@pytest.mark.spec("DATA-17")
@given(normalize_cases())
@example((np.ones((3, 2, 2), np.float32), [0.5] * 3, [0.5] * 3, False))  # notes: [0,1]->[-1,1]
def test_normalize_matches_torchvision(device, case):
    x, mean, std, noncontiguous = case
    tensor = to_torch(x, device)
    if noncontiguous:
        tensor = make_noncontiguous(tensor)
    expected = normalize(x, mean, std)
    assert_matches(T.Normalize(mean, std)(tensor), expected)
    # the rule, independently, in float64: (x - mean[c]) / std[c] per channel
    m, s = np.asarray(mean)[:, None, None], np.asarray(std)[:, None, None]
    np.testing.assert_allclose(expected, (x.astype(np.float64) - m) / s, rtol=1e-5, atol=1e-5)


@pytest.mark.spec("DATA-17")
def test_normalize_rejects_zero_std_and_integer_images():
    x = np.ones((2, 2, 2), np.float32)
    assert_both_raise(
        lambda: TF.normalize(torch.tensor(x), [0, 0], [1, 0]),
        lambda: normalize(x, [0, 0], [1, 0]),
        match="std evaluated to zero",
    )
    assert_both_raise(
        lambda: TF.normalize(torch.ones(2, 2, 2, dtype=torch.uint8), [0, 0], [1, 1]),
        lambda: normalize(np.ones((2, 2, 2), np.uint8), [0, 0], [1, 1]),
        torch_error=TypeError, reference_error=TypeError, match="float tensor",
    )


# --- DATA-18, DATA-19: Resize --------------------------------------------------------------

big_sides = st.integers(1, 3000)


@pytest.mark.spec("DATA-18")
@given(
    big_sides,
    big_sides,
    st.one_of(st.integers(1, 600), st.tuples(st.integers(1, 600), st.integers(1, 600))),
    st.one_of(st.none(), st.integers(1, 1000)),
)
@example(375, 500, 250, None)  # notes: Resize(250) on a 500x375 bee photo -> 250 x 333
@example(100, 100, 32, None)  # a square stays square
def test_resize_output_size_matches_torchvision(h, w, size, max_size):
    if isinstance(size, tuple):
        max_size = None  # torchvision only allows max_size with an int size
    expected_error = None
    try:
        expected = resize_output_size(h, w, size, max_size)
    except ValueError as error:
        expected_error = error
    from torchvision.transforms.functional import _compute_resized_output_size

    try:
        actual = _compute_resized_output_size((h, w), [size] if isinstance(size, int) else
                                              list(size), max_size)
    except ValueError:
        assert expected_error is not None
        return
    assert expected_error is None
    assert tuple(actual) == expected
    if isinstance(size, int):  # the shorter edge is `size` (or limited by max_size)
        short = min(expected) if h != w else expected[1]
        assert short == size or (max_size is not None and max(expected) == max_size)


@pytest.mark.spec("DATA-18")
@given(sides, sides, st.one_of(sides, st.tuples(sides, sides)))
def test_resize_produces_the_computed_size(h, w, size):
    out = T.Resize(size)(torch.zeros(1, h, w))
    assert tuple(out.shape[-2:]) == resize_output_size(h, w, size)
    pil = T.Resize(size)(Image.new("L", (w, h)))
    assert (pil.height, pil.width) == resize_output_size(h, w, size)


@st.composite
def resize_cases(draw):
    c, h, w = draw(st.integers(1, 3)), draw(sides), draw(sides)
    # torch's CPU antialiased bilinear is wrong when the output width is 1 and the height
    # changes (see test_torch_antialias_bug_with_output_width_1), so widths >= 2 here
    out = (draw(sides), draw(st.integers(2, 5)))
    x = draw(finite_arrays((c, h, w), np.float64, min_value=0, max_value=1))
    return x, out, draw(st.booleans())


@pytest.mark.spec("DATA-19")
@given(resize_cases())
@example((np.array([[[0.0, 1.0], [2.0, 3.0]]]), (4, 2), False))  # rows 0, .25, .75, 1 of the way
def test_bilinear_resize_of_tensors_matches_torchvision(device, case):
    x, out, noncontiguous = case
    tensor = to_torch(x, device)
    if noncontiguous:
        tensor = make_noncontiguous(tensor)
    actual = T.Resize(list(out), antialias=True)(tensor)
    assert_matches(actual, resize(x, out))


@pytest.mark.spec("DATA-19")
@given(hwc_uint8(channels=3), st.tuples(st.integers(1, 8), st.integers(1, 8)))
def test_bilinear_resize_of_pil_images_within_one_grey_level(array, out):
    actual = TF.to_tensor(T.Resize(list(out))(_pil(array)))
    expected = resize(to_tensor(array).astype(np.float64), out)
    # PIL resizes in fixed point and rounds to uint8 (after each pass): one grey level,
    # plus float32 rounding of the division by 255
    assert_matches(actual, expected.astype(np.float32), rtol=0, atol=1 / 255 + 1e-6)


@pytest.mark.spec("DATA-19")
@pytest.mark.xfail(
    reason="torch CPU bug: antialiased bilinear interpolate with output width 1 and a new "
    "height repeats the first row (2->4 rows of [0, 1] gives [0, 0, 0, 0])",
    strict=True,
)
def test_torch_antialias_bug_with_output_width_1():
    x = np.array([[[0.0], [1.0]]])
    assert_matches(T.Resize([4, 1], antialias=True)(torch.tensor(x)), resize(x, (4, 1)))


# --- DATA-20: CenterCrop -------------------------------------------------------------------


@pytest.mark.spec("DATA-20")
@given(
    hnp.arrays(np.float32, st.tuples(st.integers(1, 2), sides, sides)),
    st.one_of(st.integers(1, 7), st.tuples(st.integers(1, 7), st.integers(1, 7))),
)
@example(np.arange(5, dtype=np.float32).reshape(1, 5, 1), (2, 1))  # round(1.5) = 2
@example(np.arange(7, dtype=np.float32).reshape(1, 7, 1), (2, 1))  # round(2.5) = 2
def test_center_crop_matches_torchvision(image, size):
    actual = T.CenterCrop(size)(torch.tensor(image))
    expected = center_crop(image, size)
    assert_matches(actual, expected)
    ch, cw = (size, size) if isinstance(size, int) else size
    assert expected.shape == (image.shape[0], ch, cw)


@pytest.mark.spec("DATA-20")
def test_center_crop_rounds_half_to_even():
    column = np.arange(7, dtype=np.float32).reshape(1, 7, 1)
    assert center_crop(column, (2, 1)).ravel().tolist() == [2.0, 3.0]  # top = round(2.5) = 2
    assert center_crop(column[:, :5], (2, 1)).ravel().tolist() == [2.0, 3.0]  # round(1.5) = 2
    assert center_crop(column[:, :5], (3, 1)).ravel().tolist() == [1.0, 2.0, 3.0]


# --- DATA-21: Compose ----------------------------------------------------------------------


@pytest.mark.spec("DATA-21")
# output widths >= 2: see test_torch_antialias_bug_with_output_width_1
@given(hwc_uint8(channels=3), st.tuples(sides, st.integers(2, 5)), st.integers(1, 4), st.booleans())
def test_compose_applies_in_order(array, out, crop, crop_first):
    steps = [(T.Resize(list(out)), partial(resize, size=out)),
             (T.CenterCrop(crop), partial(center_crop, output_size=crop))]
    if crop_first:
        steps.reverse()
    tv = T.Compose([T.ToTensor(), *(s[0] for s in steps), T.Normalize([0.5] * 3, [0.5] * 3)])
    ours = compose([to_tensor, *(s[1] for s in steps),
                    partial(normalize, mean=[0.5] * 3, std=[0.5] * 3)])
    x = _pil(array)
    assert_matches(tv(x), ours(x))
    # compose([f, g])(x) is g(f(x))
    f, g = steps[0][1], steps[1][1]
    np.testing.assert_array_equal(compose([f, g])(to_tensor(x)), g(f(to_tensor(x))))


@pytest.mark.spec("DATA-21")
def test_compose_order_matters():
    # Normalize needs a tensor: put it before ToTensor and the PIL image is rejected.
    image = Image.new("RGB", (4, 4))
    with pytest.raises(TypeError, match="should be Tensor"):
        T.Compose([T.Normalize([0.5] * 3, [0.5] * 3), T.ToTensor()])(image)
    x = np.arange(36, dtype=np.float64).reshape(1, 6, 6)
    crop_then_resize = compose([partial(center_crop, output_size=2), partial(resize, size=4)])
    resize_then_crop = compose([partial(resize, size=4), partial(center_crop, output_size=2)])
    assert crop_then_resize(x).shape == (1, 4, 4) and resize_then_crop(x).shape == (1, 2, 2)


# --- DATA-22: RGBA to RGB ------------------------------------------------------------------


@pytest.mark.spec("DATA-22")
@given(hwc_uint8(channels=4))
def test_rgba_to_rgb_drops_alpha_without_blending(array):
    converted = Image.fromarray(array).convert("RGB")
    np.testing.assert_array_equal(np.asarray(converted), convert_rgb(array))
    np.testing.assert_array_equal(convert_rgb(array), array[..., :3])


@pytest.mark.spec("DATA-22")
def test_notes_airplane_demo_needs_rgb_for_a_3_channel_model():
    # notes 001: a PNG opens as RGBA; convert('RGB'), Resize((32, 32)), ToTensor,
    # reshape to (1, 3, 32, 32) for the CIFAR10 model's first Conv2d(3, 32, 5, 1, 2).
    rng = np.random.default_rng(0)
    airplane = Image.fromarray(rng.integers(0, 256, (40, 50, 4), dtype=np.uint8))
    assert airplane.mode == "RGBA"
    transform = T.Compose([T.Resize((32, 32)), T.ToTensor()])
    conv = torch.nn.Conv2d(3, 32, 5, 1, 2)
    four = transform(airplane)
    assert four.shape == (4, 32, 32)
    with pytest.raises(RuntimeError, match="3 channels"):
        conv(torch.reshape(four, (1, 4, 32, 32)))
    image = transform(airplane.convert("RGB"))
    assert image.shape == (3, 32, 32)
    assert conv(torch.reshape(image, (1, 3, 32, 32))).shape == (1, 32, 32, 32)
    reference = compose([convert_rgb, to_tensor, partial(resize, size=(32, 32))])
    assert_matches(image, reference(np.asarray(airplane)).astype(np.float32),
                   rtol=0, atol=1 / 255 + 1e-6)  # PIL's uint8 resize, as above


# --- DATA-24: make_grid --------------------------------------------------------------------


@st.composite
def grid_cases(draw):
    b, c = draw(st.integers(1, 7)), draw(st.sampled_from([1, 3]))
    images = draw(hnp.arrays(np.float32, (b, c, draw(sides), draw(sides)),
                             elements=st.floats(0, 1, width=32)))
    return images, draw(st.integers(1, 4)), draw(st.integers(0, 2)), draw(st.floats(0, 1, width=32))


@pytest.mark.spec("DATA-24")
@given(grid_cases())
def test_make_grid_matches_torchvision(case):
    images, nrow, padding, pad_value = case
    actual = torchvision.utils.make_grid(
        torch.tensor(images), nrow=nrow, padding=padding, pad_value=pad_value
    )
    expected = make_grid(images, nrow=nrow, padding=padding, pad_value=pad_value)
    assert_matches(actual, expected, rtol=0, atol=0)
    b, _, h, w = images.shape
    if b > 1:
        xmaps = min(nrow, b)
        ymaps = -(-b // xmaps)
        grid_h, grid_w = ymaps * (h + padding) + padding, xmaps * (w + padding) + padding
        assert expected.shape == (3, grid_h, grid_w)
    else:
        assert expected.shape == (3, h, w)  # a single image comes back unpadded


@pytest.mark.spec("DATA-23", "DATA-24")
def test_notes_fake_data_grid():
    # notes 002: show a batch with make_grid(images, nrow=10) -> HWC for imshow
    data = torchvision.datasets.FakeData(size=20, image_size=(1, 28, 28), transform=T.ToTensor())
    images = torch.stack([data[i][0] for i in range(20)])
    grid = torchvision.utils.make_grid(images, nrow=10)
    assert grid.shape == (3, 2 * 30 + 2, 10 * 30 + 2)
    assert to_numpy(grid).transpose((1, 2, 0)).shape == (62, 302, 3)
    assert_matches(grid, make_grid(to_numpy(images), nrow=10), rtol=0, atol=0)

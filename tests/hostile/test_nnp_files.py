"""Hostile .nnp files: each ends in one clear ModelError naming the file, nothing written."""

import struct
import zipfile

import pytest

import xaikit
from xaikit.testing import make_nnp


def members(path):
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def write_zip(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def edited(src, dst, edit):
    files = members(src)
    files["net.nntxt"] = edit(files["net.nntxt"].decode()).encode()
    return write_zip(dst, files)


@pytest.fixture
def good(tmp_path):
    return make_nnp(tmp_path / "good.nnp")


def expect(path, message):
    with pytest.raises(xaikit.ModelError) as err:
        xaikit.load_model(path)
    text = str(err.value)
    assert text.startswith(f"model: {path}: "), text
    assert message in text, text
    assert "\n" not in text


def test_not_a_zip(tmp_path):
    path = tmp_path / "notes.nnp"
    path.write_text("name,value\n")
    expect(path, "not an .nnp file (not a zip archive, or truncated)")


def test_truncated_zip(good, tmp_path):
    path = tmp_path / "cut.nnp"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    expect(path, "not an .nnp file (not a zip archive, or truncated)")


def test_corrupted_member(good, tmp_path):
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("net.nntxt")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start:start + 40] = b"\x00" * 40  # deflate stream garbage, CRC mismatch
    path = tmp_path / "corrupt.nnp"
    path.write_bytes(bytes(data))
    expect(path, "cannot read the archive")


def test_unsupported_zip_version(good, tmp_path):
    data = bytearray(good.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 6] = 64  # "version needed to extract" 6.4: found by the fuzzer
    path = tmp_path / "zip64.nnp"
    path.write_bytes(bytes(data))
    expect(path, "cannot read the archive: zip file version 6.4")


def test_zip_without_nntxt(good, tmp_path):
    files = members(good)
    del files["net.nntxt"]
    expect(write_zip(tmp_path / "nonet.nnp", files), "the archive has no net.nntxt")


def test_nntxt_that_does_not_parse(good, tmp_path):
    expect(edited(good, tmp_path / "bad.nnp", lambda t: t.replace("}", "", 1)),
           "net.nntxt does not parse")


def test_no_executor_and_two_networks(good, tmp_path):
    def two_networks(text):
        network = text[:text.index("dataset {")]
        return text[:text.index("executor {")] + network.replace('"MainRuntime"', '"Copy"', 1)

    expect(edited(good, tmp_path / "noexec.nnp", two_networks),
           "the model has no executor and 2 networks (MainRuntime, Copy)")


def test_executor_naming_a_missing_network(good, tmp_path):
    expect(edited(good, tmp_path / "nonet.nnp",
                  lambda t: t.replace('network_name: "MainRuntime"', 'network_name: "Main"')),
           "executor 'Executor' names network 'Main', which the file does not contain")


def test_two_image_inputs(good, tmp_path):
    def second_input(text):
        return text.replace("  data_variable {", '  data_variable {\n    variable_name: "Input"\n'
                            '    data_name: "x2"\n  }\n  data_variable {', 1)

    expect(edited(good, tmp_path / "two.nnp", second_input),
           "the executor has 2 inputs ['Input', 'Input']; xaikit explains models with one "
           "image input")


def test_vector_input(tmp_path):
    import nnabla.parametric_functions as PF

    from xaikit.testing import save_nnc_nnp

    path = save_nnc_nnp(tmp_path / "vector.nnp", lambda x: PF.affine(x, 3, name="fc"), (7,))
    expect(path, "input 'Input' has shape [-1, 7]; xaikit explains image inputs")


def test_parameters_that_do_not_fit_the_network(good, tmp_path):
    other = make_nnp(tmp_path / "other.nnp", size=(10, 10))
    files = members(good)
    files["parameter.h5"] = members(other)["parameter.h5"]
    expect(write_zip(tmp_path / "mismatch.nnp", files), "(256, 3)")


def test_member_path_outside_the_archive(good, tmp_path):
    files = members(good)
    files["../../x"] = b"escape"
    expect(write_zip(tmp_path / "slip.nnp", files), "archive member '../../x' points outside")


def zip_bomb(path, declared):
    """A tiny zip whose one member declares ``declared`` bytes inflated (zip64 sizes)."""
    payload = b"\x03\x00"  # an empty deflate stream
    name = b"parameter.h5"
    zip64 = struct.pack("<HHQQ", 0x0001, 16, declared, len(payload))
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0, 0, 0xFFFFFFFF,
                        0xFFFFFFFF, len(name), len(zip64)) + name + zip64 + payload
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0, 0,
                          0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64), 0, 0, 0, 0, 0)
    central += name + zip64
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local), 0)
    path.write_bytes(local + central + end)
    return path


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    path = zip_bomb(tmp_path / "bomb.nnp", 8 * 2**30)
    assert path.stat().st_size < 200
    assert zipfile.ZipFile(path).getinfo("parameter.h5").file_size == 8 * 2**30
    expect(path, "archive member 'parameter.h5' would inflate to 8589934592 bytes; refused")


def test_missing_file(tmp_path):
    expect(tmp_path / "absent.nnp", "no such model file")

import zipfile

import numpy as np
import pytest

import xaikit
from xaikit.testing import make_nnp


def rewrite_members(src, dst, edit):
    """Copy an .nnp, passing its members through ``edit({name: bytes}) -> {name: bytes}``."""
    with zipfile.ZipFile(src) as z:
        members = edit({i.filename: z.read(i) for i in z.infolist()})
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return dst


def rewrite_nntxt(src, dst, edit):
    """Copy an .nnp, passing its net.nntxt through ``edit(text) -> text``."""
    return rewrite_members(src, dst, lambda members: {
        **members, "net.nntxt": edit(members["net.nntxt"].decode()).encode()})


def test_reads_the_executor_like_nnc(models):
    model = xaikit.load_model(models["rgb"])
    assert model.input_shape == (3, 6, 10)
    assert model.num_classes == 4
    assert model.notes == ()
    probs = model.predict(np.zeros((2, 3, 6, 10), np.float32))
    assert probs.shape == (2, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)  # runtime output is Softmax


def test_binary_sigmoid_model_has_one_class(models):
    assert xaikit.load_model(models["binary"]).num_classes == 1


def test_older_nnc_parameter_protobuf(tmp_path, images):
    path = make_nnp(tmp_path / "old.nnp", parameter_format=".protobuf")
    assert "parameter.protobuf" in zipfile.ZipFile(path).namelist()
    exp = xaikit.explain("smoothgrad", model=path, image=images["grey"], seed=0)
    assert exp.attribution.max() > 0


def test_several_executors_use_the_first_and_say_so(models, tmp_path):
    def add_executor(text):
        first = text[text.index("executor {"):]
        return text + first.replace('name: "Executor"', 'name: "Second"')

    path = rewrite_nntxt(models["grey"], tmp_path / "two.nnp", add_executor)
    model = xaikit.load_model(path)
    assert model.notes == ("two.nnp has 2 executors (Executor, Second); using the first, "
                           "'Executor'",)


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace('network_name: "MainRuntime"', 'network_name: "Gone"'),
     "executor 'Executor' names network 'Gone', which the file does not contain"),
    (lambda t: t.replace("network {", "network {{", 1), "net.nntxt does not parse"),
    (lambda t: t.replace("  data_variable {", "  data_variable {\n    variable_name: \"Input\"\n"
                         "  }\n  data_variable {", 1), "the executor has 2 inputs"),
])
def test_broken_descriptions_give_one_clear_message(models, tmp_path, edit, message):
    path = rewrite_nntxt(models["grey"], tmp_path / "broken.nnp", edit)
    with pytest.raises(xaikit.ModelError) as err:
        xaikit.load_model(path)
    assert message in str(err.value)
    assert str(err.value).startswith(f"model: {path}: ")


def test_vector_input_is_refused(tmp_path):
    from xaikit.engine.backend import F
    from xaikit.testing import save_nnc_nnp

    def mlp(x):
        import nnabla.parametric_functions as PF
        return PF.affine(F.relu(PF.affine(x, 4, name="a")), 2, name="b")

    path = save_nnc_nnp(tmp_path / "vec.nnp", mlp, (5,))  # (batch, 5): not an image
    with pytest.raises(xaikit.ModelError, match=r"has shape \[-1, 5\]; xaikit explains image"):
        xaikit.load_model(path)


def test_not_a_zip_and_no_nntxt(tmp_path):
    (tmp_path / "text.nnp").write_text("hello")
    with pytest.raises(xaikit.ModelError, match="not an .nnp file"):
        xaikit.load_model(tmp_path / "text.nnp")
    with zipfile.ZipFile(tmp_path / "empty.nnp", "w") as z:
        z.writestr("nnp_version.txt", "0.1")
    with pytest.raises(xaikit.ModelError, match="the archive has no net.nntxt"):
        xaikit.load_model(tmp_path / "empty.nnp")
    with pytest.raises(xaikit.ModelError, match="no such model file"):
        xaikit.load_model(tmp_path / "missing.nnp")


@pytest.mark.parametrize("output,logit", [
    ("Softmax", "@MainRuntime/Affine_out"), ("Sigmoid", "@MainRuntime/Affine_out"),
    ("Affine", None),
])
def test_logit_is_the_input_of_a_final_softmax_or_sigmoid(tmp_path, output, logit):
    model = xaikit.load_model(make_nnp(tmp_path / "m.nnp", output=output))
    assert model.logit == logit
    if logit:
        assert model.graph(1).variables[logit].shape == (1, 3)
def test_layers_name_every_function_output_in_network_order(models):
    model = xaikit.load_model(models["grey"])
    assert model.layers == (
        xaikit.Layer("@MainRuntime/Convolution_out", "Convolution"),
        xaikit.Layer("@MainRuntime/ReLU_out", "ReLU"),
        xaikit.Layer("@MainRuntime/Affine_out", "Affine"),
        xaikit.Layer("Softmax", "Softmax"),
    )
    for batch_size in (1, 5):
        variables = model.graph(batch_size).variables
        assert variables["@MainRuntime/Convolution_out"].shape == (batch_size, 4, 8, 8)
        assert all(layer.variable in variables for layer in model.layers)


def without_members(src, dst, *names):
    return rewrite_members(src, dst, lambda members: {
        name: data for name, data in members.items() if name not in names})


@pytest.mark.parametrize("parameter_format", [".h5", ".protobuf"])
def test_a_model_without_its_parameter_file_is_refused(tmp_path, parameter_format):
    """nnabla would run it with zero weights: a black map and the score 1/3, exit 0."""
    full = make_nnp(tmp_path / "full.nnp", parameter_format=parameter_format)
    path = without_members(full, tmp_path / "bare.nnp", f"parameter{parameter_format}")
    with pytest.raises(xaikit.ModelError) as error:
        xaikit.load_model(path)
    assert str(error.value) == (
        f"model: {path}: the archive has no parameters (no parameter.h5 or parameter.protobuf); "
        "the network needs 4: conv/conv/W, conv/conv/b, affine/affine/W, affine/affine/b")


def drop_parameters(src, dst, names, parameter_format):
    """Copy an .nnp whose parameter file lacks ``names``."""
    member = f"parameter{parameter_format}"

    def drop(data: bytes) -> bytes:
        if parameter_format == ".h5":
            import io

            import h5py

            buffer = io.BytesIO(data)
            with h5py.File(buffer, "a") as h5:
                for name in names:
                    del h5[name]
            return buffer.getvalue()
        from nnabla.utils import nnabla_pb2

        proto = nnabla_pb2.NNablaProtoBuf()
        proto.ParseFromString(data)
        kept = [p for p in proto.parameter if p.variable_name not in names]
        del proto.parameter[:]
        proto.parameter.extend(kept)
        return proto.SerializeToString()

    return rewrite_members(src, dst, lambda members: {**members, member: drop(members[member])})


@pytest.mark.parametrize("parameter_format", [".h5", ".protobuf"])
def test_a_parameter_file_lacking_parameters_names_them(tmp_path, parameter_format):
    full = make_nnp(tmp_path / "full.nnp", parameter_format=parameter_format)
    path = drop_parameters(full, tmp_path / "part.nnp", ["affine/affine/W", "conv/conv/b"],
                           parameter_format)
    with pytest.raises(xaikit.ModelError) as error:
        xaikit.load_model(path)
    assert str(error.value) == (
        f"model: {path}: the archive's parameters lack 2 of the network's 4: "
        "conv/conv/b, affine/affine/W")


def test_a_network_without_parameters_needs_no_parameter_file(tmp_path):
    import nnabla.functions as F

    from xaikit.testing import save_nnc_nnp

    def pooled(x):
        return F.reshape(F.average_pooling(x, (4, 4)), (x.shape[0], -1))

    path = save_nnc_nnp(tmp_path / "pool.nnp", pooled, (1, 8, 8))
    bare = without_members(path, tmp_path / "bare.nnp", "parameter.h5")
    assert xaikit.load_model(bare).num_classes == 4


def test_a_damaged_parameter_file_is_refused(models, tmp_path):
    path = rewrite_members(models["grey"], tmp_path / "damaged.nnp",
                           lambda members: {**members, "parameter.h5": b"not hdf5"})
    with pytest.raises(xaikit.ModelError, match=r"damaged.nnp: cannot load the network's "
                                                "parameters: "):
        xaikit.load_model(path)


def test_a_folder_is_said_to_be_a_folder(tmp_path):
    with pytest.raises(xaikit.ModelError) as error:
        xaikit.load_model(tmp_path)
    assert str(error.value) == f"model: {tmp_path}: is a folder, not a model file"

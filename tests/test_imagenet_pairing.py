"""The default k=4 KR pairing of ImageNet ResNets."""

import pytest

import kr_keras
from kr_keras.models import imagenet_pairing, imagenet_resnet


def resnet(depth):
    return imagenet_resnet(depth, width_multiplier=0.125, num_classes=4, input_shape=(32, 32, 3))


@pytest.mark.parametrize("teacher_depth", [34, 50])
def test_deep_teachers_pair_with_resnet18_stage_outputs_at_k4(teacher_depth):
    teacher, student = resnet(teacher_depth), resnet(18)
    pairing = imagenet_pairing(teacher, student)
    assert pairing["group_size"] == 4
    assert pairing["student_layers"] == [f"stage{s}_block2_out" for s in (1, 2, 3, 4)]
    assert pairing["teacher_layers"] == kr_keras.models.default_tap_names(teacher)
    assert len(pairing["teacher_layers"]) == 16
    groups = kr_keras.losses.kr.group_taps(pairing["teacher_layers"], pairing["student_layers"], 4)
    assert groups[0] == ["stage1_block1_out", "stage1_block2_out", "stage1_block3_out", "stage2_block1_out"]
    assert groups[3][-1] == "stage4_block3_out"
    distiller = kr_keras.KRDistiller(teacher, student, **pairing)
    assert len(distiller.kr.aggregators) == 4


def test_stage_outputs_of_resnet34_student():
    assert kr_keras.models.stage_output_names(resnet(34)) == [
        "stage1_block3_out", "stage2_block4_out", "stage3_block6_out", "stage4_block3_out"]


def test_pairs_that_do_not_divide_name_the_counts():
    with pytest.raises(ValueError, match=r"needs 16 teacher block outputs.*has 8.*group_size=2"):
        imagenet_pairing(resnet(18), resnet(18))
    with pytest.raises(ValueError, match="Received: group_size=0"):
        imagenet_pairing(resnet(34), resnet(18), group_size=0)
    with pytest.raises(ValueError, match=r"needs 12 teacher block outputs.*has 16"):
        imagenet_pairing(resnet(34), resnet(18), group_size=3)


def test_models_without_block_names_are_rejected():
    import keras
    inputs = keras.Input((8, 8, 3))
    plain = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="block<i>_out"):
        imagenet_pairing(resnet(34), plain)

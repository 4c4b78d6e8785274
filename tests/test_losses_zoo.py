"""SP, CC, VID, RKD, PKT, AB, FT, CRD and DKD against numpy ports of the
references (RepDistiller `distiller_zoo/`, `crd/`; mdistiller `DKD.py`)."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import kr_keras
from conftest import snapshot
from kr_keras import losses
from kr_keras.losses import ab, cc, crd, dkd, ft, pkt, rkd, sp, vid

RTOL = 1e-5


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def nchw_flat(f):  # PyTorch's f.view(bsz, -1) of a channels-first map
    return (f.transpose(0, 3, 1, 2) if f.ndim == 4 else f).reshape(len(f), -1)


def np_normalize(x, axis=1):  # F.normalize
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-12)


def np_pool(f, size):  # adaptive_avg_pool2d, integer ratios, channels-last
    b, h, w, c = f.shape
    return f.reshape(b, size, h // size, size, w // size, c).mean(axis=(2, 4))


# --- numpy ports of the reference formulas ---------------------------------

def ref_sp(f_s, f_t):
    bsz = len(f_s)
    g_s = np_normalize(nchw_flat(f_s) @ nchw_flat(f_s).T)
    g_t = np_normalize(nchw_flat(f_t) @ nchw_flat(f_t).T)
    return ((g_t - g_s) ** 2).sum() / (bsz * bsz)


def ref_pkt(out, tgt, eps=1e-7):
    out = out / (np.sqrt((out**2).sum(1, keepdims=True)) + eps)
    tgt = tgt / (np.sqrt((tgt**2).sum(1, keepdims=True)) + eps)
    ms, ts = (out @ out.T + 1) / 2, (tgt @ tgt.T + 1) / 2
    ms, ts = ms / ms.sum(1, keepdims=True), ts / ts.sum(1, keepdims=True)
    return np.mean(ts * np.log((ts + eps) / (ms + eps)))


def ref_pdist(e, eps=1e-12):
    sq = (e**2).sum(1)
    res = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * e @ e.T, eps))
    np.fill_diagonal(res, 0)
    return res


def smooth_l1(a, b):
    d = np.abs(a - b)
    return np.where(d < 1, 0.5 * d**2, d - 0.5).mean()


def ref_rkd(f_s, f_t, w_d=25, w_a=50):
    s, t = f_s.reshape(len(f_s), -1), f_t.reshape(len(f_t), -1)
    t_d, d = ref_pdist(t), ref_pdist(s)
    t_d, d = t_d / t_d[t_d > 0].mean(), d / d[d > 0].mean()

    def angle(x):
        n = np_normalize(x[None, :, :] - x[:, None, :], axis=2)
        return np.einsum("ijd,ikd->ijk", n, n).reshape(-1)

    return w_d * smooth_l1(d, t_d) + w_a * smooth_l1(angle(s), angle(t))


def softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def kl_div_sum(log_q, p):  # F.kl_div(log_q, p, size_average=False): 0 where p = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - log_q), 0))


def ref_dkd(s, t, y, alpha, beta, T):
    gt = np.eye(s.shape[1], dtype=bool)[y]
    ps, pt = softmax(s / T), softmax(t / T)
    cat = lambda p: np.stack([(p * gt).sum(1), (p * ~gt).sum(1)], 1)  # noqa: E731
    tckd = kl_div_sum(np.log(cat(ps)), cat(pt)) * T**2 / len(y)
    pt2 = softmax(t / T - 1000.0 * gt)
    with np.errstate(divide="ignore"):
        ls2 = np.log(softmax(s / T - 1000.0 * gt))
    nckd = kl_div_sum(ls2, pt2) * T**2 / len(y)
    return alpha * tckd + beta * nckd


def ref_ab(source, target, margin=1.0):  # criterion_alternative_l2
    loss = ((source + margin) ** 2 * ((source > -margin) & (target <= 0))
            + (source - margin) ** 2 * ((source <= margin) & (target > 0)))
    return np.abs(loss).sum()


def ref_contrast_loss(x, n_data, eps=1e-7):
    m, pn = x.shape[1] - 1, 1 / n_data
    log_d1 = np.log(x[:, 0] / (x[:, 0] + m * pn + eps))
    log_d0 = np.log(m * pn / (x[:, 1:] + m * pn + eps))
    return -(log_d1.sum() + log_d0.sum()) / len(x)


# --- pinned functions -------------------------------------------------------

def test_sp_loss_matches_reference():
    f_s, f_t = rand(6, 4, 4, 3, seed=1), rand(6, 2, 2, 8, seed=2)
    np.testing.assert_allclose(losses.sp_loss(f_s, f_t), ref_sp(f_s, f_t), rtol=RTOL)
    assert float(losses.sp_loss(f_s, f_s)) == 0.0


def test_pkt_loss_matches_reference():
    f_s, f_t = rand(6, 5, seed=3), rand(6, 9, seed=4)
    np.testing.assert_allclose(losses.pkt_loss(f_s, f_t), ref_pkt(f_s, f_t), rtol=RTOL)


@pytest.mark.parametrize("w_d,w_a", [(25.0, 50.0), (1.0, 0.0), (0.0, 1.0)])
def test_rkd_loss_matches_reference(w_d, w_a):
    f_s, f_t = rand(5, 6, seed=5), rand(5, 3, seed=6)
    got = losses.rkd_loss(f_s, f_t, distance_weight=w_d, angle_weight=w_a)
    np.testing.assert_allclose(got, ref_rkd(f_s, f_t, w_d, w_a), rtol=RTOL)


def test_rkd_teacher_side_has_no_gradient():
    f_s, f_t = tf.constant(rand(4, 3, seed=7)), tf.constant(rand(4, 3, seed=8))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([f_s, f_t])
        loss = losses.rkd_loss(f_s, f_t)
    assert tape.gradient(loss, f_t) is None
    assert np.isfinite(tape.gradient(loss, f_s).numpy()).all()


def test_dkd_loss_matches_reference_and_decomposes():
    s, t = rand(6, 10, seed=9) * 3, rand(6, 10, seed=10) * 3
    y = np.array([0, 3, 9, 1, 1, 5])
    for alpha, beta, temp in [(1.0, 8.0, 4.0), (0.5, 2.0, 1.0)]:
        got = losses.dkd_loss(s, t, y, alpha=alpha, beta=beta, temperature=temp)
        np.testing.assert_allclose(got, ref_dkd(s, t, y, alpha, beta, temp), rtol=RTOL)
    tckd = float(losses.dkd_loss(s, t, y, alpha=1.0, beta=0.0))
    nckd = float(losses.dkd_loss(s, t, y, alpha=0.0, beta=1.0))
    np.testing.assert_allclose(losses.dkd_loss(s, t, y), tckd + 8.0 * nckd, rtol=RTOL)
    np.testing.assert_allclose(losses.dkd_loss(s, t, np.eye(10)[y]), losses.dkd_loss(s, t, y))
    # The paper's identity, per sample: KD = TCKD + (1 - p_gt(teacher)) NCKD.
    for i in range(len(y)):
        p_gt = softmax(t[i:i + 1] / 4.0)[0, y[i]]
        kd = losses.kd_loss(t[i:i + 1], s[i:i + 1], temperature=4.0)
        one = losses.dkd_loss(s[i:i + 1], t[i:i + 1], y[i:i + 1], 1.0, 1.0 - p_gt)
        np.testing.assert_allclose(one, kd, rtol=1e-4)


def test_dkd_class_warmup_and_labels():
    s, t, y = rand(4, 5, seed=11), rand(4, 5, seed=12), np.array([0, 1, 2, 3])
    loss = losses.DecoupledKnowledgeDistillation()
    full = float(losses.dkd_loss(s, t, y))
    np.testing.assert_allclose(loss.compute_loss(t, s, labels=y), full, rtol=RTOL)
    np.testing.assert_allclose(loss.compute_loss(t, s, labels=y, epoch=5), full / 4, rtol=RTOL)
    np.testing.assert_allclose(loss.compute_loss(t, s, labels=y, epoch=30), full, rtol=RTOL)
    with pytest.raises(ValueError, match="labels=None"):
        loss.compute_loss(t, s)


# --- losses with helpers ----------------------------------------------------

def nets():
    keras.utils.set_random_seed(0)
    teacher = kr_keras.models.cifar_resnet(8, width_multiplier=0.5, input_shape=(8, 8, 1))
    student = kr_keras.models.cifar_resnet(8, width_multiplier=0.25, input_shape=(8, 8, 1))
    return teacher, student


@pytest.fixture(scope="module")
def pair():
    return nets()


def build_losses(module, pair, **hparams):
    """`module.build_losses` with its DEFAULTS (as the registry calls it)."""
    defaults = {k: v for k, v in module.DEFAULTS.items() if k != "student_loss_weight"}
    return module.build_losses(*pair, **{**defaults, **hparams})


def taps(model, names, x):
    return keras.Model(model.inputs, [model.get_layer(n).output for n in names])(x)


def test_cc_matches_reference(pair):
    [loss], [weight] = build_losses(cc, pair, feat_dim=4)
    assert weight == 0.02 and (loss.teacher_layer_name, loss.student_layer_name) == ("pool", "pool")
    loss.validate_model_compatibility(*pair)
    f_s, f_t = rand(5, 16, seed=13), rand(5, 32, seed=14)
    e_s = f_s @ loss.embed_s.kernel.numpy() + loss.embed_s.bias.numpy()
    e_t = f_t @ loss.embed_t.kernel.numpy() + loss.embed_t.bias.numpy()
    delta = np.abs(e_s - e_t)
    np.testing.assert_allclose(loss.compute_loss(f_t, f_s),
                               np.mean((delta[:-1] * delta[1:]).sum(1)), rtol=RTOL)


def test_vid_matches_reference(pair):
    vids, weights = build_losses(vid, pair)
    assert len(vids) == 3 and weights == [1.0] * 3
    loss = vids[1]
    loss.validate_model_compatibility(*pair)
    f_s, f_t = rand(3, 8, 8, 8, seed=15), rand(3, 4, 4, 16, seed=16)
    k = [c.kernel.numpy()[0, 0] for c in loss.regressor.layers if c.weights]
    x = np_pool(f_s, 4)
    mean = np.maximum(np.maximum(x @ k[0], 0) @ k[1], 0) @ k[2]
    var = np.log(1 + np.exp(loss.log_scale.numpy())) + 1e-5
    np.testing.assert_allclose(var, 5.0, rtol=1e-5)  # init_pred_var
    expected = np.mean(0.5 * ((mean - f_t) ** 2 / var + np.log(var)))
    np.testing.assert_allclose(loss.compute_loss(f_t, f_s), expected, rtol=RTOL)


def test_ab_matches_reference_with_connector(pair):
    abs_, weights = build_losses(ab, pair)
    assert [l.student_layer_name for l in abs_][0] == "stage1_block1_add"
    assert weights == [1.0] * 3 and ab.stages(None, 1.0, 3) == []
    # The reference's two stages: AB alone for the stage, then weight 0.
    assert build_losses(ab, pair, ab_stage_epochs=30)[1] == [0.0] * 3
    [stage] = ab.stages(30, 1.0, 3)
    assert stage["epochs"] == 30 and stage["student_loss_weight"] == 0.0
    assert stage["distillation_loss_weights"] == [1.0] * 3
    np.testing.assert_allclose([l.scale for l in abs_], [3e-3 / 4, 3e-3 / 2, 3e-3])
    loss = abs_[2]
    loss.validate_model_compatibility(*pair)
    f_s, f_t = rand(4, 2, 2, 16, seed=17), rand(4, 2, 2, 32, seed=18)
    conv, bn = loss.connector.layers
    z = f_s @ conv.kernel.numpy()[0, 0] + conv.bias.numpy()
    z = (z - z.mean((0, 1, 2))) / np.sqrt(z.var((0, 1, 2)) + 1e-5)  # batch norm, training
    z = z * bn.gamma.numpy() + bn.beta.numpy()
    expected = ref_ab(z, f_t) / 4 / 1000 * 3
    np.testing.assert_allclose(loss.compute_loss(f_t, f_s), expected, rtol=1e-4)
    np.testing.assert_allclose(losses.ab_loss(f_s, f_t[..., :16]), ref_ab(f_s, f_t[..., :16]) / 4,
                               rtol=RTOL)
    assert float(losses.ab_loss(np.array([[2.0, -2.0]]), np.array([[1.0, -1.0]]))) == 0.0


# RepDistiller's Connector is its ConvReg: a student map twice, half, or at least the teacher's.
@pytest.mark.parametrize("t_h,s_h,usable", [(8, 8, True), (8, 16, True), (8, 4, True),
                                             (7, 3, False), (7, 4, False), (8, 5, False),
                                             (35, 38, True), (3, 7, True)])
def test_ab_accepts_the_pairs_its_connector_can_bridge(t_h, s_h, usable):
    problem = ab._check((None, t_h, t_h, 8), (None, s_h, s_h, 4))
    assert (problem is None) == usable
    if usable:  # the connector maps the student's map onto the teacher's
        out = ab._connector((None, s_h, s_h, 4), (None, t_h, t_h, 8))(np.zeros([1, s_h, s_h, 4]))
        assert tuple(out.shape) == (1, t_h, t_h, 8)
    else:
        with pytest.raises(ValueError, match="at least the teacher's size, or half of it"):
            ab._connector((None, s_h, s_h, 4), (None, t_h, t_h, 8))


def test_ft_matches_reference_and_freezes_paraphraser(pair):
    f_s, f_t = rand(3, 4, 4, 5, seed=19), rand(3, 2, 2, 5, seed=20)

    def factor(f):
        return np_normalize(nchw_flat((f**2).mean(-1, keepdims=True)))

    expected = np.abs(factor(np_pool(f_s, 2)) - factor(f_t)).mean()
    np.testing.assert_allclose(losses.ft_loss(f_s, f_t), expected, rtol=RTOL)
    [loss], [weight] = build_losses(ft, pair)
    assert weight == 200.0 and ft.stages(None) == [] and ft.stages(None, 0) == []
    [stage] = ft.stages(30, paraphraser_epochs=1)  # the reference's stage wins
    assert stage["train_student"] is False and stage["freeze_after"] is True
    # Default: 30 / 240 of fit's epochs (at least 1) of CE alone while the
    # paraphraser trains, then frozen; the distiller resolves the fraction.
    assert ft.DEFAULTS["paraphraser_epochs"] == 0.125 and ft.DEFAULTS["ft_stage_epochs"] is None
    [stage] = ft.stages(None, paraphraser_epochs=0.125)
    assert stage == {"epochs": 0.125, "student_loss_weight": 1.0,
                     "distillation_loss_weights": [0.0], "freeze_after": True}
    loss.validate_model_compatibility(*pair)
    t = tf.constant(rand(2, 2, 2, 32, seed=21))
    s = tf.constant(rand(2, 2, 2, 16, seed=22))
    assert loss.paraphraser_encoder(t).shape[-1] == 16 and loss.translator(s).shape[-1] == 16
    para = loss.paraphraser_encoder.trainable_variables + loss.paraphraser_decoder.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        main, init = loss.compute_loss(t, s), loss.helper_loss(t)
    assert all(g is None for g in tape.gradient(main, para))
    assert all(g is not None for g in tape.gradient(init, para))
    assert all(g is None for g in tape.gradient(init, loss.translator.trainable_variables))


def test_ft_default_freezes_a_trained_paraphraser_and_trains_the_translator_on(pair):
    """The student trains on CE in the first epoch while the paraphraser
    learns; then the paraphraser is a fixed target and its optimizer stops,
    while the translator (joint) trains on with the student's optimizer."""
    distiller = kr_keras.distillers.build_distiller("ft", *pair)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    loss = distiller.distillation_losses[0]
    paraphraser = (loss.paraphraser_encoder.trainable_variables
                   + loss.paraphraser_decoder.trainable_variables)
    x, y = rand(16, 8, 8, 1, seed=30), np.arange(16) % 10
    student, para = [snapshot(v) for v in (distiller.student.trainable_weights, paraphraser)]
    with pytest.warns(UserWarning, match="stages take the first 1 epoch"):
        logs = distiller.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    assert logs["distillation_loss"] == [0.0]
    assert all(not np.allclose(a, b) for a, b in zip(para, snapshot(paraphraser)))
    assert any(not np.allclose(a, b) for a, b in
               zip(student, snapshot(distiller.student.trainable_weights)))
    assert int(distiller.auxiliary_optimizer.iterations) == int(distiller.optimizer.iterations) == 2
    para, translator = snapshot(paraphraser), snapshot(loss.translator.trainable_variables)
    logs = distiller.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, shuffle=False,
                         verbose=0).history
    assert logs["distillation_loss"][-1] > 0
    assert all(np.array_equal(a, b) for a, b in zip(para, snapshot(paraphraser)))
    assert all(not np.allclose(a, b) for a, b in
               zip(translator, snapshot(loss.translator.trainable_variables)))
    assert int(distiller.auxiliary_optimizer.iterations) == 2
    assert int(distiller.optimizer.iterations) == 4


def crd_loss_object(pair, **kw):
    [loss], [weight] = build_losses(crd, pair, **{"feat_dim": 4, "n_data": 10, **kw})
    assert weight == 0.8
    loss.validate_model_compatibility(*pair)
    return loss


def test_crd_matches_reference_with_sample_indices(pair):
    loss = crd_loss_object(pair, nce_k=3)
    f_s, f_t = rand(2, 16, seed=23), rand(2, 32, seed=24)
    idx, cidx = np.array([7, 2]), np.array([[7, 1, 1, 5], [2, 0, 9, 7]])

    def embed(layer, f):
        return np_normalize(f @ layer.kernel.numpy() + layer.bias.numpy())

    z = None
    for step in range(2):  # Z is set at the first call only
        mem_s, mem_t = loss.memory_s.numpy(), loss.memory_t.numpy()
        v1, v2 = embed(loss.embed_s, f_s), embed(loss.embed_t, f_t)
        out_v2 = np.exp(np.einsum("bkd,bd->bk", mem_s[cidx], v2) / 0.07)
        out_v1 = np.exp(np.einsum("bkd,bd->bk", mem_t[cidx], v1) / 0.07)
        z = z or (out_v1.mean() * 10, out_v2.mean() * 10)
        expected = (ref_contrast_loss(out_v1 / z[0], 10) + ref_contrast_loss(out_v2 / z[1], 10))
        got = loss.compute_loss(f_t, f_s, sample_indices=idx, contrast_indices=cidx)
        np.testing.assert_allclose(got, expected, rtol=1e-4)
        np.testing.assert_allclose(loss.memory_s.numpy()[idx],
                                   np_normalize(0.5 * mem_s[idx] + 0.5 * v1), rtol=1e-5)
        np.testing.assert_allclose(np.delete(loss.memory_t.numpy(), idx, 0),
                                   np.delete(mem_t, idx, 0))


def test_crd_ring_buffer_without_indices(pair):
    loss = crd_loss_object(pair, nce_k=4)
    f_s, f_t = rand(3, 16, seed=25), rand(3, 32, seed=26)
    before = loss.memory_s.numpy()
    value = loss.compute_loss(f_t, f_s, training=False)
    assert np.isfinite(float(value)) and int(loss.counter.numpy()[0]) == 0
    np.testing.assert_array_equal(loss.memory_s.numpy(), before)
    for expected_pointer in (3, 6, 9, 2):
        loss.compute_loss(f_t, f_s)
        assert int(loss.counter.numpy()[0]) == expected_pointer
    v1 = np_normalize(f_s @ loss.embed_s.kernel.numpy() + loss.embed_s.bias.numpy())
    np.testing.assert_allclose(loss.memory_s.numpy()[[9, 0, 1]], v1, rtol=1e-5)


def test_crd_negatives_exclude_the_anchor(pair):
    """Two rows, one negative each: the only row that is not the anchor's.
    Drawing from all rows (the anchor included) would match this with
    probability 2**-8 for these 8 anchors."""
    loss = crd_loss_object(pair, nce_k=1, n_data=2)
    f_s, f_t = rand(8, 16, seed=31), rand(8, 32, seed=32)
    idx = np.arange(8) % 2
    drawn = loss.compute_loss(f_t, f_s, sample_indices=idx, training=False)
    chosen = loss.compute_loss(f_t, f_s, sample_indices=idx, training=False,
                               contrast_indices=np.stack([idx, 1 - idx], 1))
    np.testing.assert_allclose(drawn, chosen, rtol=1e-6)
    self_negatives = loss.compute_loss(f_t, f_s, sample_indices=idx, training=False,
                                       contrast_indices=np.stack([idx, idx], 1))
    assert abs(float(self_negatives) - float(drawn)) > 1e-3


def test_crd_needs_fewer_negatives_than_rows():
    with pytest.warns(UserWarning, match="using nce_k=9. Received: nce_k=16, n_data=10"):
        loss = losses.ContrastiveRepresentationDistillation("pool", "pool", nce_k=16, n_data=10)
    assert loss.nce_k == 9 and loss.get_config()["nce_k"] == 9
    with pytest.raises(ValueError, match="n_data >= 2.*n_data=1"):
        losses.ContrastiveRepresentationDistillation("pool", "pool", nce_k=1, n_data=1)


def run_logs(pair, name, epochs, **hparams):
    """Per-epoch logs of a fit on one fixed batch with learning rate 0: the
    student's outputs stay the same, so the losses differ by the schedule."""
    distiller = kr_keras.distillers.build_distiller(name, *pair, **hparams)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    x, y = rand(8, 8, 8, 1, seed=33), np.arange(8) % 10
    return distiller, distiller.fit(x, y, batch_size=8, epochs=epochs, shuffle=False,
                                    verbose=0).history


def test_dkd_warmup_is_a_share_of_the_run(pair):
    default = losses.DecoupledKnowledgeDistillation()
    assert dkd.DEFAULTS["warmup_epochs"] == default.warmup_epochs == 20 / 240
    assert float(default.warmup) == 20.0  # mdistiller's 240 epochs until a fit says
    for epochs, warmup in [(240, 20), (24, 2), (4, 1), (1, 1)]:
        default.set_run_epochs(epochs)
        assert float(default.warmup) == warmup
    distiller, logs = run_logs(pair, "dkd", 4, warmup_epochs=0.5)
    ratios = np.array(logs["distillation_loss"]) / logs["distillation_loss"][-1]
    np.testing.assert_allclose(ratios, [0.5, 1, 1, 1], rtol=1e-5)
    # A longer run re-resolves it without a retrace: 4 of 8 epochs.
    x, y = rand(8, 8, 8, 1, seed=33), np.arange(8) % 10
    logs = distiller.fit(x, y, batch_size=8, epochs=8, shuffle=False, verbose=0).history
    ratios = np.array(logs["distillation_loss"]) / logs["distillation_loss"][-1]
    np.testing.assert_allclose(ratios, [0.25, 0.5, 0.75, 1, 1, 1, 1, 1], rtol=1e-5)
    _, logs = run_logs(pair, "dkd", 3, warmup_epochs=2)  # an int stays epochs
    ratios = np.array(logs["distillation_loss"]) / logs["distillation_loss"][-1]
    np.testing.assert_allclose(ratios, [0.5, 1, 1], rtol=1e-5)


@pytest.mark.parametrize("hparams,epochs,zero_epochs", [
    ({}, 2, 1),  # 30 / 240 of 2 epochs: at least 1
    ({"paraphraser_epochs": 0.5}, 3, 2),  # round(1.5)
])
def test_ft_paraphraser_stage_is_a_share_of_the_run(pair, hparams, epochs, zero_epochs):
    _, logs = run_logs(pair, "ft", epochs, **hparams)
    values = logs["distillation_loss"]
    assert values[:zero_epochs] == [0.0] * zero_epochs and min(values[zero_epochs:]) > 0


# --- registry data, config and .keras round trips ----------------------------

MODULES = {"sp": sp, "cc": cc, "vid": vid, "rkd": rkd, "pkt": pkt, "ab": ab, "ft": ft,
           "crd": crd, "dkd": dkd}
WEIGHTS = {"sp": 3000.0, "cc": 0.02, "vid": 1.0, "rkd": 1.0, "pkt": 30000.0, "ab": 1.0,
           "ft": 200.0, "crd": 0.8, "dkd": 1.0}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_defaults_and_config_round_trip(name, pair):
    module = MODULES[name]
    assert module.DEFAULTS["distillation_loss_weight"] == WEIGHTS[name]
    # A declared weight reaches the distiller the registry builds.
    distiller = kr_keras.build_distiller(name, *pair, distillation_loss_weight=2.5)
    assert distiller.distillation_loss_weights[0] == 2.5
    built, weights = build_losses(module, pair)
    assert len(built) == len(weights) >= 1 and weights[0] == WEIGHTS[name]
    for loss in built:
        config = type(loss).from_config(loss.get_config()).get_config()
        assert config == loss.get_config()
        assert keras.saving.get_registered_object(
            "kr_keras>" + type(loss).__name__) is type(loss)


def test_keras_distiller_round_trip_restores_every_helper(tmp_path):
    """One `keras.distillation.Distiller` holding every loss but DKD (it needs
    the labels, which that distiller does not pass): `.keras` save and load."""
    teacher, student = nets()
    zoo = []
    for name in sorted(set(MODULES) - {"dkd"}):
        extra = {"n_data": 16, "nce_k": 4, "feat_dim": 4} if name == "crd" else {}
        zoo += build_losses(MODULES[name], (teacher, student), **extra)[0]
    distiller = keras.distillation.Distiller(teacher, student, zoo, [1.0] * len(zoo))
    x = rand(4, 8, 8, 1, seed=27)
    expected = distiller.predict(x, verbose=0)
    distiller.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-5)
    assert [type(l) for l in loaded.distillation_losses] == [type(l) for l in zoo]
    for before, after in zip(zoo, loaded.distillation_losses):
        if isinstance(before, keras.layers.Layer):
            assert before.weights and len(before.weights) == len(after.weights)
            for a, b in zip(before.weights, after.weights):
                np.testing.assert_allclose(a.numpy(), b.numpy())


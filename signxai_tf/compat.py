"""The calls of the original signxai TensorFlow API (``signxai.methods.wrappers``), on signxai_tf.

Code written for signxai (1.x) or signxai2's TensorFlow module runs with only its imports
changed::

    from signxai_tf.compat import calculate_relevancemap, gradient_x_sign_mu, normalize_heatmap

    R = calculate_relevancemap("lrpsign_epsilon_0_1", x, model)        # x: one sample (H, W, C)
    R = gradient_x_sign_mu(model, x, 0.5)
    H = normalize_heatmap(R.sum(axis=-1))

Every call is a thin call into :func:`signxai_tf.explain` with the method names of the table
(docs/migration.md lists each call next to its ``explain`` spelling). Besides the functions
defined here, every method name of the table is a function of this module, as in
``signxai.methods.wrappers``: ``compat.lrpsign_epsilon_0_1(model, x, **kwargs)`` is
``calculate_relevancemap("lrpsign_epsilon_0_1", x, model, **kwargs)``.

One sample or a batch
---------------------
As in the original, ``x`` may be **one sample without the batch axis** (its map comes back
without one); a batch stays a batch (the original's ``batchmode=True``). The model's input rank
decides: ``x.ndim == len(model.inputs[0].shape)`` is a batch, one less is one sample.

Keywords
--------
The parameters of the original signatures (``neuron_selection``, ``mu``,
``last_conv_layer_name``, ``layer_name``, ``batchmode``) are taken as they are. Old keywords in
``**kwargs`` (``noise_scale``, ``augment_by_n``, ``reference_inputs``, ``input_layer_rule``,
``stdfactor``...) are translated by :func:`shared_spec.translate_legacy`, with one
``DeprecationWarning`` each naming the new keyword; new keywords (``noise=``, ``samples=``,
``seed=``...) are accepted too.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from shared_spec import MethodNameError, MethodParameterError, check_parameter, parameter_default, parse, translate_legacy
from shared_spec.heatmaps import normalize_heatmap

from ._batch import as_batch
from .analyzer import create_analyzer
from .analyzer._layer_map import with_layer_map
from ._explain import explain
from ._methods.grad_cam import layer_cam
from ._multipliers import sign_mu
from ._softmax import remove_softmax

__all__ = [
    "calculate_explanation_innvestigate",
    "calculate_grad_cam_relevancemap",
    "calculate_grad_cam_relevancemap_timeseries",
    "calculate_relevancemap",
    "calculate_relevancemaps",
    "calculate_sign_mu",
    "gradient",
    "gradient_x_input",
    "gradient_x_sign",
    "gradient_x_sign_mu",
    "guided_backprop",
    "guided_backprop_on_guided_model",
    "integrated_gradients",
    "normalize_heatmap",
    "smoothgrad",
]


# -- one sample or a batch ---------------------------------------------------------------
def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, tf.Tensor):
        return x.numpy()
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        raise TypeError("signxai_tf explains Keras models; got a torch tensor (use x.detach().cpu().numpy() or signxai_captum)")
    return np.asarray(x)


def _input_rank(model: Any, where: str) -> int:
    if not isinstance(model, keras.Model):
        raise TypeError(f"{where}: model must be a keras.Model, got {type(model).__name__}")
    try:
        return len(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError(f"{where}: model {model.name!r} is not built; build it with keras.Input or model.build(shape)") from None


def _is_one_sample(model: keras.Model, x: np.ndarray, where: str, batchmode: bool = False) -> bool:
    """Whether ``x`` is one sample without the batch axis (see the module docstring)."""
    rank = _input_rank(model, where)
    expected = tuple(model.inputs[0].shape)
    if x.ndim == rank:
        return False
    if x.ndim == rank - 1:
        if batchmode:
            raise ValueError(f"{where}: batchmode=True needs a batch of shape {expected}, got one sample of shape {x.shape}")
        return True
    raise ValueError(
        f"{where}: x has shape {x.shape}, but model {model.name!r} takes batches of shape {expected}: "
        f"pass one sample of shape {expected[1:]} or a batch of shape (N, *{expected[1:]})"
    )


def _explain_sample_or_batch(
    model: keras.Model,
    x: Any,
    method: str,
    target: Any,
    params: dict[str, Any],
    legacy: dict[str, Any] | None = None,
    batchmode: bool = False,
) -> np.ndarray:
    """``explain`` on one sample (batch axis added and removed) or on a batch, old keywords translated."""
    method, params, target = translate_legacy(method, {**params, **(legacy or {})}, target)
    array = _as_array(x)
    if _is_one_sample(model, array, str(method), batchmode):
        return explain(model, array[None], method, target, **params)[0]
    return explain(model, array, method, target, **params)


def _target_argument(where: str, target: Any = None, **named: Any) -> Any:
    """The one target among ``target`` and the original's named target parameter (none given: None)."""
    given = {key: value for key, value in {"target": target, **named}.items() if value is not None}
    if len(given) > 1:
        shown = " and ".join(repr(k) for k in given)
        raise MethodParameterError(f"{where}: {shown} are spellings of one parameter; give only one of them")
    value = next(iter(given.values()), None)
    return None if isinstance(value, str) and value == "max_activation" else value


# -- calculate_relevancemap(s) -------------------------------------------------------------
def calculate_relevancemap(method: str, x: Any, model: keras.Model, neuron_selection: Any = None, **kwargs: Any) -> np.ndarray:
    """signxai's ``calculate_relevancemap(method, x, model_no_softmax)``: the map of one sample or a batch.

    Parameters
    ----------
    method : str
        A method name of the table (``shared_spec.list_methods()``), e.g. ``"gradient_x_sign_mu_0_5"``,
        ``"lrpsign_epsilon_0_1"``, ``"grad_cam_VGG16ILSVRC"``.
    x : numpy.ndarray or tf.Tensor
        One sample without the batch axis (``(H, W, C)``, ``(T, C)``) or a batch, channels last.
    model : keras.Model
        The model (a final softmax is skipped through a copy; the model is not modified).
    neuron_selection : None, int, sequence of int or "max_activation"
        The class to explain (None / "max_activation": the argmax per sample).
    **kwargs
        Parameters of the method in this project's spelling (``noise=``, ``steps=``, ``seed=``...) or
        the original's (translated with a ``DeprecationWarning``); ``batchmode=True`` requires a batch.

    Returns
    -------
    numpy.ndarray
        ``x``'s shape.

    Raises
    ------
    TypeError
        For the PyTorch argument order ``(model, x, method)`` (that is
        ``signxai_captum.calculate_relevancemap``) and for a model that is not a ``keras.Model``.
    ValueError
        If ``x`` is neither one sample nor a batch of the model's input shape.
    """
    if isinstance(method, keras.Model):
        raise TypeError(
            "signxai_tf.calculate_relevancemap takes (method, x, model) as the original signxai; got a model first "
            "(the PyTorch order (model, x, method) is signxai_captum.calculate_relevancemap)"
        )
    if not isinstance(method, str):
        raise TypeError(f"method must be a method name (str), got {type(method).__name__}")
    batchmode = bool(kwargs.pop("batchmode", False))
    target = _target_argument(method, kwargs.pop("target", None), neuron_selection=neuron_selection)
    _input_rank(model, method)
    return _explain_sample_or_batch(model, x, method, target, {}, kwargs, batchmode)


def calculate_relevancemaps(method: str, X: Any, model: keras.Model, **kwargs: Any) -> np.ndarray:
    """signxai's ``calculate_relevancemaps(method, X, model_no_softmax)``: one map per sample.

    Parameters
    ----------
    method : str
        As :func:`calculate_relevancemap`.
    X : list, tuple, numpy.ndarray or tf.Tensor
        A list of samples (each explained as :func:`calculate_relevancemap` does, one at a time)
        or a batch (samples along axis 0, explained in one call).
    model : keras.Model
        The model.
    **kwargs
        As :func:`calculate_relevancemap` (``neuron_selection`` etc.).

    Returns
    -------
    numpy.ndarray
        The maps stacked along axis 0.
    """
    if isinstance(X, (list, tuple)):
        if not X:
            raise ValueError("X is empty; pass at least one sample")
        return np.stack([np.asarray(calculate_relevancemap(method, x, model, **kwargs)) for x in X])
    array = _as_array(X)
    rank = _input_rank(model, method)
    if array.ndim != rank:
        raise ValueError(
            f"calculate_relevancemaps: X has shape {array.shape}, but model {model.name!r} takes batches of shape "
            f"{tuple(model.inputs[0].shape)}; X must hold samples along axis 0 (for one sample use calculate_relevancemap)"
        )
    return calculate_relevancemap(method, array, model, **kwargs)


# -- the function-level API of signxai.methods.wrappers ----------------------------------------
def gradient(model_no_softmax: keras.Model, x: Any, **kwargs: Any) -> np.ndarray:
    """signxai's ``gradient(model_no_softmax, x)``: ``calculate_relevancemap("gradient", x, model)``."""
    return calculate_relevancemap("gradient", x, model_no_softmax, **kwargs)


def gradient_x_input(model_no_softmax: keras.Model, x: Any, **kwargs: Any) -> np.ndarray:
    """signxai's ``gradient_x_input``: the gradient times x (``"gradient_x_input"``)."""
    return calculate_relevancemap("gradient_x_input", x, model_no_softmax, **kwargs)


def gradient_x_sign(model_no_softmax: keras.Model, x: Any, **kwargs: Any) -> np.ndarray:
    """signxai's ``gradient_x_sign``: the gradient times sign(x), sign(0) = +1 (``"gradient_x_sign"``)."""
    return calculate_relevancemap("gradient_x_sign", x, model_no_softmax, **kwargs)


def gradient_x_sign_mu(model_no_softmax: keras.Model, x: Any, mu: float, batchmode: bool = False, **kwargs: Any) -> np.ndarray:
    """signxai's ``gradient_x_sign_mu(model, x, mu, batchmode=False)``: the gradient times sign_mu(x, mu).

    ``batchmode=True`` requires ``x`` to be a batch (a batch is recognised without it too).
    """
    return calculate_relevancemap("gradient_x_sign", x, model_no_softmax, mu=mu, batchmode=batchmode, **kwargs)


def integrated_gradients(model_no_softmax: keras.Model, x: Any, **kwargs: Any) -> np.ndarray:
    """signxai's ``integrated_gradients``: ``"integrated_gradients"`` (the table's steps, zero baseline).

    ``steps=``, ``baseline=`` (or the original's ``reference_inputs=``, translated) override them.
    """
    return calculate_relevancemap("integrated_gradients", x, model_no_softmax, **kwargs)


def smoothgrad(model_no_softmax: keras.Model, x: Any, **kwargs: Any) -> np.ndarray:
    """signxai's ``smoothgrad``: ``"smoothgrad"`` with this project's defaults (relative noise).

    The original always used ``augment_by_n=50, noise_scale=0.2``: absolute noise, sigma = 0.2.
    Here the defaults are the table's (``samples``, ``noise`` relative to each sample's range,
    docs/differences.md); ``noise_scale=v`` (translated to ``noise=v, noise_mode="absolute"``)
    gives the original's sigma, ``augment_by_n=n`` its sample count, ``seed=`` fixes the noise.
    """
    return calculate_relevancemap("smoothgrad", x, model_no_softmax, **kwargs)


def guided_backprop(model_no_softmax: keras.Model, x: Any, **kwargs: Any) -> np.ndarray:
    """signxai's ``guided_backprop``: ``"guided_backprop"`` (unit seed: the original multiplied by f_c(x))."""
    return calculate_relevancemap("guided_backprop", x, model_no_softmax, **kwargs)


def guided_backprop_on_guided_model(model_no_softmax: keras.Model, img: Any, layer_name: str) -> np.ndarray:
    """signxai's ``guided_backprop_on_guided_model(model, img, layer_name)``: class-agnostic guided backprop.

    The guided-backprop gradient (ReLU backward ``1[z > 0] max(g, 0)``) of the **sum of the outputs
    of layer** ``layer_name`` with respect to the input, as the original computed for its guided
    Grad-CAM. It is :func:`signxai_tf.explain` with ``"guided_backprop"`` on the model cut at that
    layer and summed (a Flatten and a Dense layer of ones added on top).

    Parameters
    ----------
    model_no_softmax : keras.Model
        The model (not modified).
    img : numpy.ndarray or tf.Tensor
        A batch (the original's ``np.array([x])``) or one sample.
    layer_name : str
        A layer of ``model_no_softmax`` (e.g. ``"block5_conv3"``); its output after its activation.

    Returns
    -------
    numpy.ndarray
        ``img``'s shape (the original returned the first sample's map of the batch only).
    """
    where = "guided_backprop_on_guided_model"
    _input_rank(model_no_softmax, where)
    try:
        layer = model_no_softmax.get_layer(layer_name)
    except ValueError:
        names = ", ".join(repr(layer.name) for layer in model_no_softmax.layers[-8:])
        raise ValueError(f"{where}: model {model_no_softmax.name!r} has no layer {layer_name!r}; its last layers: {names}") from None
    flat = keras.layers.Flatten()(layer.output)
    total = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(flat)
    summed = keras.Model(model_no_softmax.inputs, total)
    return _explain_sample_or_batch(summed, img, "guided_backprop", 0, {})


def _grad_cam(
    method: str, x: Any, model: keras.Model, last_conv_layer_name: str | None, neuron_selection: Any, resize: bool, kwargs: dict
) -> np.ndarray:
    kwargs = dict(kwargs)
    target = _target_argument(method, kwargs.pop("target", None), neuron_selection=neuron_selection)
    params = {}
    if last_conv_layer_name is not None:
        if "layer" in kwargs:
            raise MethodParameterError(f"{method}: 'last_conv_layer_name' and 'layer' are spellings of one parameter; give only one")
        params["layer"] = last_conv_layer_name
    if not isinstance(resize, (bool, np.bool_)):
        raise MethodParameterError(f"{method}: resize must be True or False, got {resize!r}")
    if resize:
        return _explain_sample_or_batch(model, x, method, target, params, kwargs)
    # the CAM at the layer's resolution: the same computation as explain's, before resize_cam
    method, params, target = translate_legacy(method, {**params, **kwargs}, target)
    spec = parse(method, **params)
    logit_model = remove_softmax(model)
    array = _as_array(x)
    one = _is_one_sample(logit_model, array, spec.name)
    batch = as_batch(array[None] if one else array, logit_model)
    spatial_dims = 1 if spec.family == "grad_cam_timeseries" or len(batch.shape) == 3 else 2
    cam = layer_cam(logit_model, batch, target, spec.params.get("layer"), spatial_dims, spec.model).numpy()
    return cam[0] if one else cam


def calculate_grad_cam_relevancemap(
    x: Any,
    model: keras.Model,
    last_conv_layer_name: str | None = None,
    neuron_selection: Any = None,
    resize: bool = True,
    **kwargs: Any,
) -> np.ndarray:
    """signxai's ``calculate_grad_cam_relevancemap(x, model, last_conv_layer_name, neuron_selection, resize)``.

    Parameters
    ----------
    x : numpy.ndarray or tf.Tensor
        A batch of images (the original's ``np.array([x])``) or one image, channels last.
    model : keras.Model
        The model.
    last_conv_layer_name : str or None
        The layer whose output is weighted; None: the last convolution (after its activation).
    neuron_selection : None or int
        The class (None: the argmax per sample).
    resize : bool, default True
        True: the CAM resized to the input (bilinear, docs/semantics.md §3) and broadcast over the
        channels. False: the CAM at the layer's resolution, ``(N, h, w)`` for a batch and
        ``(h, w)`` for one image (the original's ``resize=False``).
    **kwargs
        Further keywords of ``explain``.

    Returns
    -------
    numpy.ndarray
        ``resize=True``: ``x``'s shape, the CAM in [0, 1] broadcast over the channels, one per
        sample (the original returned the first sample's map without the batch axis, scaled to
        0..255 when resized by signxai 1.x; ``[0]`` and ``* 255`` give those). ``resize=False``:
        see ``resize``; values in [0, 1].
    """
    return _grad_cam("grad_cam", x, model, last_conv_layer_name, neuron_selection, resize, kwargs)


def calculate_grad_cam_relevancemap_timeseries(
    x: Any, model: keras.Model, last_conv_layer_name: str | None = None, neuron_selection: Any = None, resize: bool = True
) -> np.ndarray:
    """signxai's ``calculate_grad_cam_relevancemap_timeseries``: Grad-CAM of ``(T, C)`` series.

    As :func:`calculate_grad_cam_relevancemap` for a batch ``(N, T, C)`` or one series ``(T, C)``
    (Conv1D models); the CAM is linearly interpolated to T and repeated over the channels, as the
    original did. ``resize=False``: the CAM at the layer's length, ``(N, n)`` or ``(n,)``.
    """
    return _grad_cam("grad_cam_timeseries", x, model, last_conv_layer_name, neuron_selection, resize, {})


# -- iNNvestigate through signxai.utils -------------------------------------------------------
def calculate_explanation_innvestigate(
    model: keras.Model,
    x: Any,
    method: str = "lrp.epsilon",
    neuron_selection: Any = None,
    batchmode: bool = False,
    layer_map: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """signxai's ``calculate_explanation_innvestigate(model, x, method, neuron_selection, batchmode, **kwargs)``.

    The original created iNNvestigate's analyzer ``method`` with ``**kwargs`` and analysed ``x``;
    here :func:`signxai_tf.analyzer.create_analyzer` creates the same analyzer on Keras 3.

    Parameters
    ----------
    model : keras.Model
        The model without its final softmax.
    x : numpy.ndarray or tf.Tensor
        One sample without the batch axis (its map comes back without one) or, with
        ``batchmode=True`` or a batch-shaped ``x``, a batch.
    method : str, default "lrp.epsilon"
        An iNNvestigate analyzer name (``"lrp.z"``, ``"lrp.epsilon"``, ``"lrp.stdxepsilon"``,
        ``"lrp.alpha_1_beta_0"``, ``"lrp.sequential_composite_a"``, ``"deep_taylor.bounded"``,
        ``"gradient"``, ``"input_t_gradient"``, ...: :data:`signxai_tf.analyzer.analyzers`).
    neuron_selection : None, int, sequence of int, "max_activation" or "all"
        None / ``"max_activation"``: the largest output per sample; an int or one per sample: that
        output (iNNvestigate's ``neuron_selection_mode="index"``); ``"all"``: every output.
    batchmode : bool, default False
        True: ``x`` must be a batch.
    layer_map : dict, optional
        Layer kind -> rule parameters for the LRP analyzers, e.g. ``{"conv2d": {"alpha": 1,
        "beta": 0}, "dense": {"epsilon": 0.01}}``: the kernel layers of a kind get that rule,
        the others keep the method's (``"conv"`` names every convolution; a kind is a Keras class
        name in any case; kernel layers fed by the input keep ``input_layer_rule`` when one is
        given). See :func:`signxai_tf.analyzer._layer_map.rule_from_parameters` for how the
        parameters select the rule.
    **kwargs
        The analyzer's parameters in iNNvestigate's spelling: ``epsilon``, ``stdfactor``,
        ``input_layer_rule`` (a rule name, class or ``(low, high)``), ``alpha`` / ``beta``,
        ``steps``, ``reference_inputs``, ``augment_by_n``, ``noise_scale``, ...

    Returns
    -------
    numpy.ndarray
        The map, ``x``'s shape.
    """
    where = "calculate_explanation_innvestigate"
    if "neuron_selection_mode" in kwargs:
        raise MethodParameterError(
            f"{where}: the neuron selection mode follows from neuron_selection (None: max_activation, an index: "
            "index, 'all': all); do not pass neuron_selection_mode"
        )
    if isinstance(neuron_selection, str) and neuron_selection not in ("max_activation", "all"):
        raise MethodParameterError(
            f"{where}: neuron_selection={neuron_selection!r}; give None, 'max_activation', 'all' or output index(es)"
        )
    if neuron_selection is None or (isinstance(neuron_selection, str) and neuron_selection == "max_activation"):
        mode, index = "max_activation", None
    elif isinstance(neuron_selection, str):
        mode, index = "all", None
    else:
        mode, index = "index", neuron_selection
    analyzer = create_analyzer(method, model, neuron_selection_mode=mode, **kwargs)
    if layer_map:
        analyzer = with_layer_map(analyzer, layer_map, where)
    array = _as_array(x)
    one = _is_one_sample(model, array, where, batchmode)
    result = analyzer.analyze(array[None] if one else array, index)
    return result[0] if one else result


# -- sign -------------------------------------------------------------------------------------
def calculate_sign_mu(x: Any, mu: float | None = parameter_default("mu")) -> Any:
    """signxai's ``calculate_sign_mu(x, mu)``: +1 where ``x >= mu``, -1 elsewhere, of x's type and dtype.

    Parameters
    ----------
    x : tf.Tensor, numpy.ndarray or array-like
        Any shape. Not modified.
    mu : float or None, default 0.0 (the table's default)
        The threshold in x's units. None is the original's "mid-point of -1 and 1", i.e. 0.

    Returns
    -------
    tf.Tensor or numpy.ndarray
        A tensor for a tensor (via :func:`signxai_tf.sign_mu`), an array otherwise; x's dtype.
        Unlike the original, every ``mu`` gives this result (its in-place update turned every value
        into +1 for ``mu <= -1``, docs/differences.md).
    """
    mu = check_parameter("mu", parameter_default("mu") if mu is None else mu, "calculate_sign_mu")
    if isinstance(x, tf.Tensor):
        return sign_mu(x, mu)
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        raise TypeError("signxai_tf.calculate_sign_mu takes TF tensors and numpy arrays; use signxai_captum.calculate_sign_mu")
    array = np.asarray(x)
    return np.where(array >= mu, 1, -1).astype(array.dtype)


# -- every method name of the table as a function, as in signxai.methods.wrappers -------------
def __getattr__(name: str) -> Callable[..., np.ndarray]:
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parse(name)
    except MethodNameError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} (and it is not a method name of the table)") from None

    def method(model_no_softmax: keras.Model, x: Any, **kwargs: Any) -> np.ndarray:
        return calculate_relevancemap(name, x, model_no_softmax, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"signxai's ``{name}(model_no_softmax, x, **kwargs)``: ``calculate_relevancemap({name!r}, x, model)``."
    return method

"""signxai_tools: framework-neutral tools on top of ``signxai_captum`` and ``signxai_tf``.

The ``signxai`` command line (:mod:`signxai_tools.cli`) and the digits demo
(:mod:`signxai_tools.demo`, also ``python -m signxai_tools.demo``) live here, outside the
framework packages, so that both frameworks can be driven from one place.

Importing this package or its modules imports no framework (torch, TensorFlow, Keras): the
functions that need one import it when called, torch before TensorFlow.
"""

__all__: list[str] = []

"""Explanation methods on Keras 3 models, one module per method family (private: the API is ``signxai_tf.explain``)."""

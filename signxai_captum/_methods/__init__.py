"""Attribution classes, one module per method family (private: the public list is ``signxai_captum.__all__``)."""

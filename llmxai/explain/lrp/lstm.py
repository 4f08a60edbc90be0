def is_lstm(m):
    return hasattr(m, "weight_ih_l0") and hasattr(m, "weight_hh_l0")

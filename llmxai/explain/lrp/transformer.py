def attnlrp_hooks(model, stack):
    pass

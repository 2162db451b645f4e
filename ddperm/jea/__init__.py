"""ddperm's Just Enough Administration endpoint: the generated Ddperm module, its role
capabilities, and ``install`` / ``status`` / ``uninstall`` over plain remoting."""

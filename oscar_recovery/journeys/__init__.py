"""Every write capture makes to a cart journey (:mod:`.writes`): create, update, merge on
login and end, as plain functions, so receivers and the request scope stay thin."""

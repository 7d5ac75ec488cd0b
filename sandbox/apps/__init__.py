"""Oscar apps forked for the sandbox, the way Oscar documents forking."""

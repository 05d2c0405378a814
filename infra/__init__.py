"""Project infrastructure code that is not deployed: the local runtime and lint rules."""

"""The services of the Sales Action Engine. They never import each other."""

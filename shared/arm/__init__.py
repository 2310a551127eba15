"""Azure Resource Manager: the client, its errors, its operations and the readers of ARM bodies."""

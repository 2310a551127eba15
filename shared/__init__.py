"""The restore point copy app. Never imports azure.functions: function_app.py adapts triggers."""

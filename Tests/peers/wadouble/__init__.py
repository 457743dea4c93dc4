"""A WhatsApp server double for BuzzBridge's tests; see ../wa_server_double.py for the contract."""

"""Readings by SMS, Viber and WhatsApp: the «ПС» command, the conversation, the webhook."""

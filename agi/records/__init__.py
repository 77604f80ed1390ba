"""Call records: what became of every phone call and text conversation, and the reports a
supervisor reads from them."""

"""Run-independent vocabulary: plan, documents, events, operator commands, scheduler protocol, errors."""

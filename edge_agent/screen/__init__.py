"""The device's own screen: a local page served on the agent's loop (aiohttp), fed the same view models the
retained MQTT topics carry, its touches handed to the same route table the ui topic reaches."""

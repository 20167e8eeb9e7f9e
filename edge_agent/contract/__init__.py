"""The MQTT contract: every message model, topic, the CloudEvents envelope, and the one parser of inbound bytes.

Everything that speaks to the platform reads it (the agent, the simulators, the AsyncAPI generator); it imports
only the domain, so the contract can be read without the runtime. docs/asyncapi.yaml is generated from it.

- ``base``: the strict base model and the CloudEvents envelope; ``codec``: bytes in, models out, or Rejected;
- ``topics``: the topic layout; ``const``: limits of the wire;
- ``cart``, ``device``, ``workflow``, ``catalog``, ``picking``, ``presence``, ``health``: the messages, by concern.
"""

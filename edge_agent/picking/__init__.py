"""Click-and-collect picking on associate handhelds: the desk around the pure PickOrder machine, its messages,
topics and configuration (retail note §1.3). See :mod:`edge_agent.picking.desk` for the design."""

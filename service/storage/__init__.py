"""MongoDB storage: client, repositories, stored document shape, local mongod, migrations."""

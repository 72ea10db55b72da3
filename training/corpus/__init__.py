"""The corpus part of training: its schema, the build (families, splits, augmentation,
checksums), the loaders, the datasheet and lexicon mining."""

extension TransformerRegistry {
    /// The built-in steps, in the order `pipeline --help` lists them.
    static let builtinTypes: [any TableTransformer.Type] = [
        ColumnSelector.self, DerivedColumns.self, DatetimeFeatures.self, StringNormalizer.self,
        CategoricalEncoder.self, OneHotEncoder.self, OrdinalEncoder.self,
        StandardScaler.self, MinMaxScaler.self, RobustScaler.self, SimpleImputer.self,
    ]
}

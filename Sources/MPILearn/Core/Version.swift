public enum MPILearnVersion { public static let string = "0.1.0" }

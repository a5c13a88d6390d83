/// How a CSV column's text becomes values.
public enum ColumnType: String, Codable, Sendable, CaseIterable {
    /// Numbers (Double, or Float with ``CSVOptions/float32``); missing values become NaN.
    case numeric
    /// Strings coded against a global ``CategoryDictionary``; missing values become code −1.
    case categorical
    /// ISO 8601 dates and times (`2013-01-01`, `2013-01-01 05:00`, `2013-01-01T05:00:00.5Z`,
    /// `...+02:00`), stored as seconds since 1970-01-01T00:00:00Z; missing is `Int64.min`.
    case datetime
    /// Numeric if every non-missing value in the whole file (all ranks) is a number, else
    /// datetime if every one is an ISO 8601 date, else categorical. All ranks agree.
    ///
    /// A column of numbers with some text cells (`3`, `x4`, `1`) is a data error naming the
    /// first such cell (file:line:column and the value), not a categorical column: one stray
    /// cell must not silently turn a numeric feature into categories. A column without any
    /// number (carrier codes) is categorical. Missing markers and empty cells are neither
    /// numbers nor text. To read a column of numbers and text as categories, give it the type
    /// ``categorical`` in ``CSVOptions/types`` (`--categorical NAME` on the command line).
    case inferred
}

/// A feature derived from a datetime column (see ``Table/addingDatetimeFeatures(_:columns:)``).
///
/// Derived columns are named `<column>_<feature>` (e.g. `time_hour_hour`) and hold Doubles
/// (NaN where the datetime is missing). Days of the week count from Monday = 0, as pandas'
/// `dt.dayofweek`; times are in UTC.
public enum DatetimeFeature: String, Codable, Sendable, CaseIterable {
    case year, month, day, hour, minute, second
    case dayOfWeek = "dayofweek"
    case dayOfYear = "dayofyear"
}

/// Options of ``CSVReader``: dialect, column selection and types, missing values, dictionaries.
///
/// The dialect is RFC 4180: fields may be enclosed in double quotes, a quote inside a quoted
/// field is doubled, quoted fields may contain the delimiter and newlines, records end with
/// LF or CRLF, the last record may lack a final newline, blank lines are skipped, and a UTF-8
/// byte order mark is ignored. A quote inside an unquoted field is an error (it would make
/// the record boundaries ambiguous).
public struct CSVOptions: Sendable {
    /// Field separator: one ASCII character other than a quote, CR or LF.
    public var delimiter: Character = ","
    /// Whether the first record of each file names the columns. Without a header columns are
    /// named `x0`, `x1`, ...
    public var hasHeader = true
    /// Columns to read, by name, in the order wanted; `nil` reads all. Other columns are
    /// skipped without being parsed.
    public var columns: [String]? = nil
    /// Type per column name; columns not listed get ``defaultType``.
    public var types: [String: ColumnType] = [:]
    /// Type of columns not in ``types``.
    public var defaultType: ColumnType = .inferred
    /// Field texts that mean "missing" (compared exactly, after removing quotes).
    public var missingValues: Set<String> = CSVOptions.defaultMissingValues
    /// After reading, move rows between ranks (alltoallv) so row counts differ by at most one.
    /// Global row order is kept.
    public var rebalance = false
    /// Store numeric columns as Float instead of Double (parsed with correct rounding to Float).
    public var float32 = false
    /// Fixed dictionaries: a categorical column listed here is coded against this dictionary
    /// (e.g. a model's training categories) instead of a dictionary built from the file.
    public var dictionaries: [String: CategoryDictionary] = [:]
    /// What a value that is not in a fixed dictionary becomes.
    public var unseenCategories: UnseenCategoryPolicy = .missing
    /// Features derived from every datetime column after reading.
    public var datetimeFeatures: [DatetimeFeature] = []
    /// Bytes per read (a record longer than this is still read whole: the buffer grows).
    public var bufferSize = 8 << 20

    /// pandas' most common missing markers.
    public static let defaultMissingValues: Set<String> = ["", "NA", "N/A", "NaN", "nan", "NULL", "null"]

    public init(delimiter: Character = ",", hasHeader: Bool = true, columns: [String]? = nil,
                types: [String: ColumnType] = [:], defaultType: ColumnType = .inferred,
                missingValues: Set<String> = CSVOptions.defaultMissingValues, rebalance: Bool = false,
                float32: Bool = false, dictionaries: [String: CategoryDictionary] = [:],
                unseenCategories: UnseenCategoryPolicy = .missing, datetimeFeatures: [DatetimeFeature] = []) {
        self.delimiter = delimiter
        self.hasHeader = hasHeader
        self.columns = columns
        self.types = types
        self.defaultType = defaultType
        self.missingValues = missingValues
        self.rebalance = rebalance
        self.float32 = float32
        self.dictionaries = dictionaries
        self.unseenCategories = unseenCategories
        self.datetimeFeatures = datetimeFeatures
    }

    /// The delimiter as a byte, validated.
    func delimiterByte() throws -> UInt8 {
        guard let a = delimiter.asciiValue, a != UInt8(ascii: "\""), a != 10, a != 13 else {
            throw MPILearnError.invalidParameter(name: "delimiter", value: "'\(delimiter)'",
                                                 allowed: "one ASCII character other than a quote, CR or LF")
        }
        return a
    }
}

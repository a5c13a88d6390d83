import Foundation
import SwiftMPI

/// The cascade SVM (Graf, Cosatto, Bottou, Dourdanovic & Vapnik, NIPS 2004) — placeholder
/// filled in below.
struct CascadeSVM {
    let configuration: SVC
    func fit(_ local: SVMData, comm: any Communicator) throws -> SVCModel {
        throw MPILearnError.invalidParameter(name: "training", value: "cascade", allowed: "direct (the cascade is not built yet)")
    }
}

// Runs the shared TcpDataPlane contract against the node:net implementation.

import { createNodeTcpDataPlane } from '../../../../src/runtime/tcp/node/plane';
import { runTcpDataPlaneContract } from '../plane.cases';

runTcpDataPlaneContract(createNodeTcpDataPlane);

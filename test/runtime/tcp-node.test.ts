// Runs the shared TcpDataPlane contract against the node:net implementation.

import { createNodeTcpDataPlane } from '../../src/runtime/tcp-node';
import { runTcpDataPlaneContract } from './tcp-plane.cases';

runTcpDataPlaneContract(createNodeTcpDataPlane);

// Runs the shared UdpDataPlane contract against the node:dgram implementation.

import { createNodeUdpDataPlane } from '../../../src/runtime/udp/node';
import { runUdpDataPlaneContract } from './plane.cases';

runUdpDataPlaneContract(createNodeUdpDataPlane);

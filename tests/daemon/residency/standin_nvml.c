/* A stand-in for libnvidia-ml.so.1: the handful of NVML entry points Roundhouse calls, with
 * NVML's signatures and return codes, answering from a script file so tests can play a GPU.
 *
 * The script is named by the environment variable STANDIN_NVML_SCRIPT and re-read on every
 * call, so a test can change the figures while the daemon runs. One fact per line:
 *
 *   init <return code>               e.g. "init 9" plays NVML_ERROR_DRIVER_NOT_LOADED
 *   driver <version>
 *   name <gpu index> <name...>
 *   mem <gpu index> <total> <reserved> <free> <used>      bytes
 *   util <gpu index> <gpu %> <memory %>
 *   proc <gpu index> <pid> <used bytes>
 *   lost 1                           every device query answers NVML_ERROR_GPU_IS_LOST
 *
 * The GPU count is one more than the highest index named on a "mem" line. Without a script
 * the library answers like one whose kernel driver is not loaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_GPU_IS_LOST 15
#define NVML_ERROR_ARGUMENT_VERSION_MISMATCH 25
#define MAX_GPUS 8
#define MAX_PROCS 64
#define NVML_MEMORY_V2 0x02000028u

typedef struct nvmlDevice_st *nvmlDevice_t;

typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;

typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;

typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

typedef struct {
    char name[96];
    unsigned long long total, reserved, free, used;
    unsigned int util_gpu, util_mem;
} gpu_t;

typedef struct {
    unsigned int gpu, pid;
    unsigned long long used;
} proc_t;

typedef struct {
    int init_rc;
    int lost;
    char driver[80];
    int gpu_count;
    gpu_t gpus[MAX_GPUS];
    int proc_count;
    proc_t procs[MAX_PROCS];
} script_t;

static int initialized = 0;

/* Lets a test tell this library from a real NVML already loaded in its process. */
int standin_nvml_marker(void) { return 1; }

static int read_script(script_t *s) {
    memset(s, 0, sizeof(*s));
    strcpy(s->driver, "0.0");
    const char *path = getenv("STANDIN_NVML_SCRIPT");
    if (path == NULL) return -1;
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        unsigned int i, a, b;
        unsigned long long w, x, y, z;
        int n = 0;
        if (sscanf(line, "init %d", &s->init_rc) == 1) continue;
        if (sscanf(line, "lost %d", &s->lost) == 1) continue;
        if (sscanf(line, "driver %79s", s->driver) == 1) continue;
        if (sscanf(line, "name %u %n", &i, &n) == 1 && i < MAX_GPUS) {
            snprintf(s->gpus[i].name, sizeof s->gpus[i].name, "%s", line + n);
        } else if (sscanf(line, "mem %u %llu %llu %llu %llu", &i, &w, &x, &y, &z) == 5 && i < MAX_GPUS) {
            s->gpus[i].total = w;
            s->gpus[i].reserved = x;
            s->gpus[i].free = y;
            s->gpus[i].used = z;
            if ((int)i + 1 > s->gpu_count) s->gpu_count = (int)i + 1;
        } else if (sscanf(line, "util %u %u %u", &i, &a, &b) == 3 && i < MAX_GPUS) {
            s->gpus[i].util_gpu = a;
            s->gpus[i].util_mem = b;
        } else if (sscanf(line, "proc %u %u %llu", &i, &a, &w) == 3 && s->proc_count < MAX_PROCS) {
            s->procs[s->proc_count].gpu = i;
            s->procs[s->proc_count].pid = a;
            s->procs[s->proc_count].used = w;
            s->proc_count++;
        }
    }
    fclose(f);
    return 0;
}

/* Handles are 1-based indices dressed as pointers; 0 would read as NULL. */
static int gpu_of(nvmlDevice_t device, script_t *s) {
    intptr_t i = (intptr_t)device - 1;
    if (!initialized) return -NVML_ERROR_UNINITIALIZED;
    if (read_script(s) != 0 || i < 0 || i >= s->gpu_count) return -NVML_ERROR_INVALID_ARGUMENT;
    if (s->lost) return -NVML_ERROR_GPU_IS_LOST;
    return (int)i;
}

int nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    script_t s;
    /* No script: behave like a machine whose NVIDIA kernel driver is not loaded. */
    if (read_script(&s) != 0) return NVML_ERROR_DRIVER_NOT_LOADED;
    if (s.init_rc != NVML_SUCCESS) return s.init_rc;
    initialized = 1;
    return NVML_SUCCESS;
}

int nvmlInit_v2(void) { return nvmlInitWithFlags(0); }

int nvmlShutdown(void) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    initialized = 0;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(int result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
    }
}

int nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    script_t s;
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    read_script(&s);
    if (strlen(s.driver) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(version, s.driver);
    return NVML_SUCCESS;
}

int nvmlDeviceGetCount_v2(unsigned int *count) {
    script_t s;
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    read_script(&s);
    *count = (unsigned int)s.gpu_count;
    return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    script_t s;
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    read_script(&s);
    if ((int)index >= s.gpu_count) return NVML_ERROR_INVALID_ARGUMENT;
    *device = (nvmlDevice_t)(intptr_t)(index + 1);
    return NVML_SUCCESS;
}

int nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    script_t s;
    int i = gpu_of(device, &s);
    if (i < 0) return -i;
    if (strlen(s.gpus[i].name) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(name, s.gpus[i].name);
    return NVML_SUCCESS;
}

int nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    script_t s;
    int i = gpu_of(device, &s);
    if (i < 0) return -i;
    memory->total = s.gpus[i].total;
    memory->free = s.gpus[i].free;
    memory->used = s.gpus[i].used + s.gpus[i].reserved;
    return NVML_SUCCESS;
}

int nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    script_t s;
    int i = gpu_of(device, &s);
    if (i < 0) return -i;
    if (memory->version != NVML_MEMORY_V2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    memory->total = s.gpus[i].total;
    memory->reserved = s.gpus[i].reserved;
    memory->free = s.gpus[i].free;
    memory->used = s.gpus[i].used;
    return NVML_SUCCESS;
}

int nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    script_t s;
    int i = gpu_of(device, &s);
    if (i < 0) return -i;
    utilization->gpu = s.gpus[i].util_gpu;
    utilization->memory = s.gpus[i].util_mem;
    return NVML_SUCCESS;
}

int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count, nvmlProcessInfo_t *infos) {
    script_t s;
    int i = gpu_of(device, &s);
    if (i < 0) return -i;
    unsigned int n = 0;
    for (int p = 0; p < s.proc_count; p++) n += s.procs[p].gpu == (unsigned int)i;
    if (n == 0) {
        *count = 0;
        return NVML_SUCCESS;
    }
    if (infos == NULL || *count < n) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    unsigned int k = 0;
    for (int p = 0; p < s.proc_count; p++) {
        if (s.procs[p].gpu != (unsigned int)i) continue;
        infos[k].pid = s.procs[p].pid;
        infos[k].usedGpuMemory = s.procs[p].used;
        infos[k].gpuInstanceId = 0xFFFFFFFFu;
        infos[k].computeInstanceId = 0xFFFFFFFFu;
        k++;
    }
    *count = n;
    return NVML_SUCCESS;
}
